"""Batches of variable-length sequences: padding, bucketing by length, and batches under a token budget.

Taught in: book/10_toolbox.md

A batch of sequences of different lengths is padded to its longest member, and every padded
position is computed and thrown away. Batches of similar lengths (buckets) waste less. The functions
here work on the ``(M,)`` array of lengths and return batches as lists of sequence indices, so the
same batching serves any data set.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def _checked_lengths(lengths) -> np.ndarray:
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"lengths must be a 1-D array of integers (one per sequence), got dtype {lengths.dtype} "
                         f"and shape {lengths.shape}")
    if (lengths < 1).any():
        raise ValueError(f"every sequence needs at least one token; lengths holds {int(lengths.min())}")
    return lengths


def _checked_batch_size(batch_size) -> None:
    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")


def random_batches(lengths, batch_size: int, rng: np.random.Generator) -> list[list[int]]:
    """Shuffle the indices ``0 .. M-1`` and cut them into batches of ``batch_size`` (the last may be smaller)."""
    lengths = _checked_lengths(lengths)
    _checked_batch_size(batch_size)
    order = rng.permutation(len(lengths))
    return [order[i:i + batch_size].tolist() for i in range(0, len(order), batch_size)]


def bucket_batches(
    lengths, batch_size: int, rng: np.random.Generator
) -> list[list[int]]:
    """Batches of ``batch_size`` sequences of similar length, in a random
    order.

    Sort the sequences by length (ties in a random order, so that
    equal-length sequences do not always meet the same neighbours), cut the
    sorted list into batches, then shuffle the batches: each batch is
    homogeneous, the order of batches is not (a model trained on short
    batches first, then long ones, would drift with the length).
    """
    lengths = _checked_lengths(lengths)
    _checked_batch_size(batch_size)
    # lexsort sorts by its last key first: by length, ties broken by a random
    # key.
    order = np.lexsort((rng.random(len(lengths)), lengths))
    batches = [
        order[i : i + batch_size].tolist()
        for i in range(0, len(order), batch_size)
    ]
    return [batches[i] for i in rng.permutation(len(batches))]


def token_budget_batches(lengths, max_tokens: int) -> list[list[int]]:
    """Batches whose padded size ``len(batch) * longest`` stays within ``max_tokens``, shortest first.

    Sequences are taken in order of length (``np.argsort(lengths, kind="stable")``) and added to
    the current batch while ``(len(batch) + 1) * max(longest, new length) <= max_tokens``; otherwise
    the batch is closed and a new one started. Short sequences thus travel in large batches and
    long ones in small batches, and each batch costs about the same memory (fairseq's
    ``--max-tokens``). A sequence longer than ``max_tokens`` cannot fit any batch: ValueError.
    """
    lengths = _checked_lengths(lengths)
    if lengths.size and lengths.max() > max_tokens:
        raise ValueError(f"a sequence of {int(lengths.max())} tokens does not fit max_tokens={max_tokens}: "
                         "raise max_tokens or truncate the sequences")
    batches: list[list[int]] = []
    batch: list[int] = []
    longest = 0
    for index in np.argsort(lengths, kind="stable").tolist():
        length = int(lengths[index])
        if batch and (len(batch) + 1) * max(longest, length) > max_tokens:
            batches.append(batch)
            batch, longest = [], 0
        batch.append(index)
        longest = max(longest, length)
    if batch:
        batches.append(batch)
    return batches


def padding_fraction(lengths, batches: Sequence[Sequence[int]]) -> float:
    """The share of padded positions when each batch is padded to its longest sequence.

    ``1 - sum(lengths) / sum(len(batch) * longest in batch)``: 0 when no position is padding.
    """
    lengths = _checked_lengths(lengths)
    padded = sum(len(batch) * int(lengths[batch].max()) for batch in batches if len(batch))
    real = sum(int(lengths[batch].sum()) for batch in batches if len(batch))
    return 1.0 - real / padded if padded else 0.0


def pad_sequences(sequences: Sequence[Sequence[int]], pad_id: int, length: int | None = None) -> np.ndarray:
    """Stack token-id sequences into an ``(M, T)`` int64 array, padded on the right with ``pad_id``.

    T is ``length`` if given (a longer sequence is an error), else the longest sequence's length.
    """
    longest = max((len(s) for s in sequences), default=0)
    T = longest if length is None else length
    if longest > T:
        raise ValueError(f"a sequence of {longest} tokens does not fit length={T}: pass a larger length or truncate")
    out = np.full((len(sequences), T), pad_id, dtype=np.int64)
    for row, sequence in zip(out, sequences):
        row[:len(sequence)] = sequence
    return out
