"""Checks used by the exercises' test cells: each failure says what is wrong in words a student can act on.

A test cell calls, for example, ``check_close("dlogits", got, expected, hint="...")`` and gets
``AssertionError: dlogits is wrong: largest relative error 3.1e-02 at index (2, 4) ...`` rather than
a bare ``assert`` on two arrays.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np


def check_array(name: str, got, expected_shape: tuple | None = None) -> np.ndarray:
    """``got`` is a finite NumPy array (of ``expected_shape`` if given); returns it."""
    if got is None:
        raise AssertionError(f"{name} is None: did the function forget to `return` its result?")
    if not isinstance(got, (np.ndarray, np.generic, float, int)):
        raise AssertionError(f"{name} should be a NumPy array, got {type(got).__name__}")
    got = np.asarray(got)
    if expected_shape is not None and got.shape != tuple(expected_shape):
        raise AssertionError(f"{name} has the wrong shape: expected {tuple(expected_shape)}, got {got.shape}")
    return got


def check_close(name: str, got, expected, rtol: float = 1e-5, atol: float = 1e-7, hint: str = "") -> None:
    """``got`` equals ``expected`` within ``|got - expected| <= atol + rtol * |expected|``, elementwise.

    Infinities must match exactly (``inf`` where ``inf`` is expected); NaN never passes.
    """
    expected = np.asarray(expected)
    got = check_array(name, got, expected.shape)
    if np.isnan(got).any():
        where = tuple(int(i) for i in np.argwhere(np.isnan(got))[0])
        raise AssertionError(f"{name} contains NaN (first at index {where}). {hint}".strip())
    inf_mismatch = np.isinf(got) != np.isinf(expected)
    if inf_mismatch.any() or (np.isinf(got) & (np.sign(got) != np.sign(expected))).any():
        where = tuple(int(i) for i in np.argwhere(inf_mismatch | (np.isinf(got) & (got != expected)))[0])
        raise AssertionError(
            f"{name} is wrong at index {where}: expected {expected[where]}, got {got[where]}. {hint}".strip()
        )
    finite = np.isfinite(expected)
    diff = np.where(finite, np.abs(got - np.where(finite, expected, 0)), 0)
    bad = diff > atol + rtol * np.abs(np.where(finite, expected, 0))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        scale = np.maximum(np.abs(got), np.abs(expected))
        rel = float(np.max(np.where(finite & (scale > 0), diff / np.where(scale > 0, scale, 1), 0)))
        digits = next((d for d in (6, 9, 12, 17) if f"{expected[where]:.{d}g}" != f"{got[where]:.{d}g}"), 17)
        raise AssertionError(
            f"{name} is wrong: largest relative error {rel:.1e}; first mismatch at index {where}: "
            f"expected {expected[where]:.{digits}g}, got {got[where]:.{digits}g}. {hint}".strip()
        )


REMOTE_KEY = "__seqlab_remote__"


@contextmanager
def substitute(namespace: dict, **replacements):
    """Temporarily rebind names in ``namespace`` (a notebook's ``globals()``), then restore them.

    A task's tests use it to give the student's code a correct helper from an earlier task, so
    that one bug costs points once: ``with substitute(globals(), log_softmax=reference): ...``.

    Under the secure autograder the student's functions run in a sandbox, outside ``namespace``;
    the grader then puts an object under ``REMOTE_KEY`` in the namespace, and the same names are
    rebound inside the sandbox too: to a stub that calls the replacement through the grader, so that
    the replacement's code (an answer to an earlier task, say) never enters the student's process.
    """
    missing = object()
    saved = {name: namespace.get(name, missing) for name in replacements}
    remote = namespace.get(REMOTE_KEY)
    if remote is not None:
        remote.substitute(replacements)
    namespace.update(replacements)
    try:
        yield
    finally:
        if remote is not None:
            remote.restore(replacements)
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value
