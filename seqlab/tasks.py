"""Seeded synthetic sequence tasks that need a memory of known length.

Taught in: book/03_gradient_flow.md

Each task returns ``(xs, ts)``: inputs ``xs: (N, T, D)`` float32, ready for any time layer, and
the targets of a many-to-one model, read after the last step. Chapters 3 to 5 train RNNs, LSTMs
and GRUs on the same sequences by passing the same seed. The length of the memory the task needs
is an argument, so that one can watch a model fail as it grows.

``seed`` is an int or a ``np.random.Generator``; the same int always gives the same data.
"""
from __future__ import annotations

import numpy as np


def _positive(name: str, value: int, minimum: int = 1) -> int:
    if int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def adding_problem(num_sequences: int, T: int, seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem (Hochreiter and Schmidhuber, 1997): add the two marked numbers of a sequence.

    Returns ``xs: (N, T, 2)`` and ``ts: (N, 1)``, float32. At each step, feature 0 is a number drawn
    uniformly from [0, 1] and feature 1 is a marker, 1 at exactly two steps and 0 elsewhere: one
    in the first half of the sequence, one in the second half (the layout of Le et al., 2015). The
    target is the sum of the two marked numbers. Always predicting 1 gives a mean squared error of
    1/6, the variance of the sum; a model must beat that to have learned anything. The first mark
    can be up to T - 1 steps before the answer.
    """
    N, T = _positive("num_sequences", num_sequences), _positive("T", T, minimum=2)
    rng = np.random.default_rng(seed)
    values = rng.uniform(0, 1, size=(N, T))
    first = rng.integers(0, T // 2, size=N)  # one mark in [0, T/2), one in [T/2, T)
    second = rng.integers(T // 2, T, size=N)
    markers = np.zeros((N, T))
    rows = np.arange(N)
    markers[rows, first] = 1
    markers[rows, second] = 1
    xs = np.stack([values, markers], axis=-1).astype(np.float32)  # (N, T, 2)
    ts = (values[rows, first] + values[rows, second])[:, None].astype(np.float32)  # (N, 1)
    return xs, ts


def long_range_recall(num_sequences: int, lag: int, num_symbols: int = 4,
                      seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """Output the symbol seen ``lag`` steps earlier: recall the first of ``lag + 1`` random symbols.

    Returns ``xs: (N, lag + 1, V)`` one-hot float32 with ``V = num_symbols``, and ``ts: (N,)``
    int64 class ids in ``[0, V)``. Every step shows a symbol drawn uniformly from the V; the
    target is the one at step 0, and the answer is read after the last step, ``lag`` steps later.
    The symbols in between are distractors from the same alphabet, uncorrelated with the target:
    the model must keep one symbol through ``lag`` updates of its state while ignoring the others,
    and the gradient that teaches it to must travel back ``lag`` steps. Guessing gives an accuracy
    of ``1 / num_symbols``.
    """
    N, lag = _positive("num_sequences", num_sequences), _positive("lag", lag)
    V = _positive("num_symbols", num_symbols, minimum=2)
    rng = np.random.default_rng(seed)
    symbols = rng.integers(0, V, size=(N, lag + 1))  # (N, T)
    xs = np.eye(V, dtype=np.float32)[symbols]  # (N, T, V)
    return xs, symbols[:, 0].copy()
