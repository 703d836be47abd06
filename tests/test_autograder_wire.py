"""What crosses the sandbox boundary: plain data only, exactly, and nothing that could run code."""
import io
import os
import pickle

import numpy as np
import pytest

from autograder import wire
from autograder.submission import Malformed, read_submission


def roundtrip(value):
    frame = wire.encode(value, 2**20)
    read, write = os.pipe()
    os.write(write, frame)
    os.close(write)
    try:
        return wire.read_frame(read, 2**20)
    finally:
        os.close(read)


def test_plain_data_comes_back_equal_with_types_and_dtypes():
    value = {"loss": 0.25, 3: (np.arange(6, dtype=np.float32).reshape(2, 3), [1, "a", None, True]),
             "scalar": np.float32(1.5), "inf": float("inf"), "ids": np.array([1, -100], dtype=np.int64)}
    back = roundtrip(value)
    assert back.keys() == value.keys()
    assert isinstance(back[3], tuple) and isinstance(back[3][1], list)
    assert back[3][0].dtype == np.float32 and np.array_equal(back[3][0], value[3][0])
    assert isinstance(back["scalar"], np.float32) and back["inf"] == float("inf")
    assert back["ids"].dtype == np.int64


@pytest.mark.parametrize("value", [lambda: 0, object(), np.array([object()]), {1, 2}])
def test_objects_and_code_cannot_be_sent(value):
    with pytest.raises(wire.NotPlainData):
        wire.encode(value, 2**20)


def test_a_pickle_disguised_as_an_array_is_refused():
    archive = io.BytesIO()
    np.savez(archive, a0=np.array([object()], dtype=object))  # an object array is stored as a pickle
    with pytest.raises(wire.ProtocolError):
        wire.decode_payload(b'{"array": 0}', archive.getvalue())
    with pytest.raises(wire.ProtocolError):
        wire.decode_payload(pickle.dumps([1]), b"")


def test_oversized_messages_are_refused():
    with pytest.raises(ValueError, match="over the limit"):
        wire.encode(np.zeros(10_000), 1000)


def test_malformed_notebooks_have_reasons(tmp_path):
    folder = tmp_path / "ex"
    folder.mkdir()
    with pytest.raises(Malformed, match="missing notebook"):
        read_submission(folder, "ex")
    (folder / "ex.ipynb").write_bytes(b'{"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}')
    with pytest.raises(Malformed, match="invalid JSON.*line 1"):
        read_submission(folder, "ex")
