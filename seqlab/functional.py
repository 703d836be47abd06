"""Numerically stable softmax, cross-entropy and KL divergence, with their gradients.

Taught in: book/01_softmax_ce_kl.md

Every function works on the last axis of a batch: ``logits`` are ``(N, C)`` or ``(N, T, C)``
(batch, [time,] classes), and a probability distribution is a row that sums to one.
"""
from __future__ import annotations

import numpy as np


def logsumexp(
    x: np.ndarray, axis: int = -1, keepdims: bool = False
) -> np.ndarray:
    """``log(sum(exp(x)))`` along ``axis`` without overflow.

    Subtracting the maximum first keeps every ``exp`` in ``(0, 1]``; it is
    added back outside the log, so the result is exact, not an approximation.
    """
    m = np.max(x, axis=axis, keepdims=True)
    # A row of all -inf has max -inf, and -inf - -inf is nan: shift such
    # rows by 0 instead.
    m = np.where(np.isfinite(m), m, 0)
    # Such a row sums to 0, and log(0) = -inf is the answer.
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``.

    Shifting by the row maximum prevents ``exp`` from overflowing.
    """
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``log(softmax(x))`` computed as ``x - logsumexp(x)``.

    Finite even where softmax underflows to 0.
    """
    return x - logsumexp(x, axis=axis, keepdims=True)


def _targets_as_probabilities(targets: np.ndarray, num_classes: int, dtype) -> np.ndarray:
    """Class indices ``(...)`` become one-hot rows ``(..., C)``; probability rows pass through."""
    targets = np.asarray(targets)
    if np.issubdtype(targets.dtype, np.integer):
        if targets.size and (targets.min() < 0 or targets.max() >= num_classes):
            raise ValueError(
                f"targets hold class indices in [{targets.min()}, {targets.max()}], but the logits "
                f"have {num_classes} classes: every index must lie in [0, {num_classes - 1}]"
            )
        return np.eye(num_classes, dtype=dtype)[targets]
    return targets.astype(dtype, copy=False)


def check_target_shape(logits: np.ndarray, targets: np.ndarray) -> None:
    targets = np.asarray(targets)
    integer = np.issubdtype(targets.dtype, np.integer)
    expected = logits.shape[:-1] if integer else logits.shape
    if targets.shape != expected:
        kind = "class indices" if integer else "probabilities"
        raise ValueError(
            f"targets as {kind} must have shape {expected} for logits of shape {logits.shape}, "
            f"got {targets.shape}"
        )


def _check_indices(targets: np.ndarray, num_classes: int) -> None:
    if targets.size and (targets.min() < 0 or targets.max() >= num_classes):
        raise ValueError(
            f"targets hold class indices in [{targets.min()}, {targets.max()}], but the logits "
            f"have {num_classes} classes: every index must lie in [0, {num_classes - 1}]"
        )


def _picked(log_probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``log_probs[..., targets]`` row by row: the log-probability of each row's target class."""
    return np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]


def cross_entropy(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean cross-entropy ``H(y, softmax(logits))`` over every row.

    Like ``F.cross_entropy``.

    logits:  (N, C) or (N, T, C), unnormalized scores.
    targets: class indices (N,) or (N, T) (integers), or probability rows
             of the logits' shape.
    """
    check_target_shape(logits, targets)
    return cross_entropy_from_log_probs(log_softmax(logits), targets)


def cross_entropy_from_log_probs(log_probs: np.ndarray, targets: np.ndarray) -> float:
    """The mean cross-entropy given ``log_softmax(logits)``, for layers that keep the probabilities."""
    targets = np.asarray(targets)
    rows = int(np.prod(log_probs.shape[:-1]))
    if np.issubdtype(targets.dtype, np.integer):
        # Pick each row's target log-probability instead of multiplying by a one-hot (N*T, V)
        # matrix: for a vocabulary of thousands that matrix costs more than the model.
        _check_indices(targets, log_probs.shape[-1])
        return float(-np.sum(_picked(log_probs, targets)) / rows)
    y = _targets_as_probabilities(targets, log_probs.shape[-1], log_probs.dtype)
    return float(-np.sum(y * log_probs) / rows)


def cross_entropy_grad(
    logits: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    """Gradient of :func:`cross_entropy` with respect to ``logits``.

    It is ``(softmax(logits) - y) / rows``. Holds for probability targets
    too, as long as each target row sums to one.
    """
    check_target_shape(logits, targets)
    rows = int(np.prod(logits.shape[:-1]))
    return softmax_minus_targets(softmax(logits), targets) / rows


def softmax_minus_targets(probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``probs - y`` for class-index or probability targets, without building a one-hot matrix."""
    targets = np.asarray(targets)
    if np.issubdtype(targets.dtype, np.integer):
        _check_indices(targets, probs.shape[-1])
        out = probs.copy()
        np.put_along_axis(out, targets[..., None], _picked(out, targets)[..., None] - 1, axis=-1)
        return out
    return probs - targets.astype(probs.dtype, copy=False)


def entropy(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy ``H(P) = -sum p log p`` in nats, with the convention ``0 log 0 = 0``."""
    p = np.asarray(p)
    safe = np.where(p > 0, p, 1)
    return -np.sum(np.where(p > 0, p * np.log(safe), 0), axis=axis)


def kl_divergence(
    p: np.ndarray, q: np.ndarray, axis: int = -1
) -> np.ndarray:
    """``KL(P || Q) = sum p (log p - log q)`` along ``axis``, in nats.

    Terms with ``p = 0`` contribute 0 whatever ``q`` is (``0 log 0 = 0``);
    a term with ``p > 0`` and ``q = 0`` makes the divergence ``inf``: Q calls
    impossible what P says happens.
    """
    p, q = np.asarray(p), np.asarray(q)
    if p.shape != q.shape:
        raise ValueError(
            f"p and q must have the same shape, got {p.shape} and {q.shape}"
        )
    # log(0) and 0 * inf are evaluated on the masked-out side of np.where:
    # silence those warnings.
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = p * (np.log(np.where(p > 0, p, 1)) - np.log(q))
    return np.sum(np.where(p > 0, terms, 0), axis=axis)
