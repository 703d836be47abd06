"""Plain data across the sandbox boundary: framing, and values as JSON plus an ``.npz`` of arrays.

Both sides of the sandbox import this file (the sandbox gets it read-only at ``/grader/wire.py``),
so it uses the standard library and NumPy only. What crosses is *plain data*: ``None``, ``bool``,
``int``, ``float``, ``str``, NumPy arrays and scalars of non-object dtypes, and lists, tuples and
dicts of those. Nothing is ever unpickled: arrays are read with ``np.load(allow_pickle=False)``,
so a message can carry numbers, never code or objects.

A message is one frame: an 8-byte header (JSON length, npz length; big-endian uint32 each), the
JSON document, then the npz archive (absent when no array crossed). In the JSON, containers are
tagged so that a tuple comes back a tuple and a dict keeps non-string keys:
``{"tuple": [...]}``, ``{"list": [...]}``, ``{"dict": [[key, value], ...]}``,
``{"array": i}`` (entry ``a<i>`` of the npz), ``{"scalar": i}`` (a 0-d entry, returned as a NumPy
scalar). ``float`` infinities and NaN travel as JSON's ``Infinity``/``NaN``.
"""
from __future__ import annotations

import io
import json
import os
import select
import struct
import time
import zipfile

import numpy as np

HEADER = struct.Struct(">II")
MAX_JSON_BYTES = 16 * 2**20
MAX_DEPTH = 64
# dtype kinds that hold numbers, booleans or text; object ("O") and void ("V") never cross.
PLAIN_KINDS = frozenset("biufcUSMm")


class NotPlainData(TypeError):
    """A value that cannot cross the sandbox boundary (an object, a callable, an object array...)."""


class ProtocolError(RuntimeError):
    """A frame that is malformed, too large, or cut short: the other side broke the protocol or died."""


def encode(value, max_bytes: int) -> bytes:
    """``value`` (plain data) as one frame of at most ``max_bytes``; raises NotPlainData or ValueError."""
    arrays: dict[str, np.ndarray] = {}

    def tree(v, depth: int):
        if depth > MAX_DEPTH:
            raise NotPlainData(f"nested deeper than {MAX_DEPTH} levels")
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int):
            return v
        if isinstance(v, float):
            return v
        if isinstance(v, (np.ndarray, np.generic)):
            a = np.asarray(v)
            if a.dtype.kind not in PLAIN_KINDS:
                raise NotPlainData(f"a NumPy array of dtype {a.dtype} (only numbers, booleans and text)")
            key = len(arrays)
            arrays[f"a{key}"] = a
            return {"scalar" if isinstance(v, np.generic) else "array": key}
        if isinstance(v, tuple):
            return {"tuple": [tree(x, depth + 1) for x in v]}
        if isinstance(v, list):
            return {"list": [tree(x, depth + 1) for x in v]}
        if isinstance(v, dict):
            return {"dict": [[tree(k, depth + 1), tree(x, depth + 1)] for k, x in v.items()]}
        raise NotPlainData(f"a {type(v).__module__}.{type(v).__qualname__}")

    document = json.dumps(tree(value, 0)).encode()
    archive = b""
    if arrays:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # uncompressed: no decompression bomb to fear on the way back
        archive = buffer.getvalue()
    if len(document) > MAX_JSON_BYTES or len(document) + len(archive) > max_bytes:
        raise ValueError(f"the data is {len(document) + len(archive)} bytes, over the limit of {max_bytes}")
    return HEADER.pack(len(document), len(archive)) + document + archive


def decode_payload(document: bytes, archive: bytes):
    """The value of a frame's two parts. Raises ProtocolError on anything but plain data."""
    try:
        tagged = json.loads(document)
        arrays: dict[str, np.ndarray] = {}
        if archive:
            with zipfile.ZipFile(io.BytesIO(archive)) as zf:
                if sum(info.file_size for info in zf.infolist()) > 2 * len(archive) + 2**20:
                    raise ProtocolError("an npz whose contents are far larger than the archive")
            with np.load(io.BytesIO(archive), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
    except ProtocolError:
        raise
    except Exception as exc:  # any parse error is the other side's fault, never ours to crash on
        raise ProtocolError(f"unreadable message: {type(exc).__name__}: {exc}") from None

    def value(t, depth: int):
        if depth > MAX_DEPTH:
            raise ProtocolError("message nested too deeply")
        if t is None or isinstance(t, (bool, int, float, str)):
            return t
        if isinstance(t, dict) and len(t) == 1:
            (tag, body), = t.items()
            if tag in ("array", "scalar") and isinstance(body, int) and f"a{body}" in arrays:
                a = arrays[f"a{body}"]
                if a.dtype.kind not in PLAIN_KINDS:
                    raise ProtocolError(f"array of dtype {a.dtype}")
                return a[()] if tag == "scalar" else a
            if tag == "tuple" and isinstance(body, list):
                return tuple(value(x, depth + 1) for x in body)
            if tag == "list" and isinstance(body, list):
                return [value(x, depth + 1) for x in body]
            if tag == "dict" and isinstance(body, list) and all(isinstance(p, list) and len(p) == 2 for p in body):
                out = {}
                for k, x in body:
                    key = value(k, depth + 1)
                    try:
                        out[key] = value(x, depth + 1)
                    except TypeError:
                        raise ProtocolError("unhashable dict key") from None
                return out
        raise ProtocolError(f"not a plain-data tag: {str(t)[:80]}")

    return value(tagged, 0)


class Timeout(Exception):
    """No complete frame arrived before the deadline."""


def read_exactly(fd: int, n: int, deadline: float | None = None) -> bytes:
    """``n`` bytes from ``fd``, waiting at most until ``deadline`` (``time.monotonic()``) if given."""
    chunks, left = [], n
    while left:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise Timeout()
        chunk = os.read(fd, min(left, 2**20))
        if not chunk:
            raise ProtocolError("the other side closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, max_bytes: int, deadline: float | None = None):
    """Read and decode one frame from ``fd``; raises Timeout after ``deadline``, ProtocolError on garbage."""
    json_len, npz_len = HEADER.unpack(read_exactly(fd, HEADER.size, deadline))
    if json_len > MAX_JSON_BYTES or json_len + npz_len > max_bytes:
        raise ProtocolError(f"a message of {json_len + npz_len} bytes, over the limit of {max_bytes}")
    return decode_payload(read_exactly(fd, json_len, deadline), read_exactly(fd, npz_len, deadline))


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
