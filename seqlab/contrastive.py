"""Contrastive learning: the InfoNCE loss with in-batch negatives, forward and backward.

Taught in: book/10_toolbox.md

A batch holds N pairs ``(query_i, key_i)`` that belong together (two views of one image, a
question and its answer, two halves of one sentence). Each query must pick its own key out of the
N keys of the batch; the other N - 1 keys are its negatives, for free. With cosine similarities
scaled by a temperature ``tau``,

    S = normalize(Q) normalize(K)^T / tau          (N, N)
    L = -(1/N) sum_i log softmax(S_i)[i]

which is the cross-entropy of an N-way classification whose correct class is the diagonal
(van den Oord et al., 2018; SimCLR and CLIP use variants of it, CLIP in both directions).

``L >= 0`` because it is the mean of ``-log p`` with ``p`` a softmax probability, at most 1.
``log N - L`` is a lower bound on the mutual information between queries and keys, so with
``L >= 0`` the bound can never certify more than ``log N`` nats. ``L = log N`` exactly when every
score of a row is the same: collapsed embeddings (all keys equal), at any ``tau``, or the limit
``tau -> inf``. Independent Gaussian embeddings score above ``log N`` on average: their cosines
spread with standard deviation ``1 / sqrt(D)``, the scores with ``s = 1 / (tau sqrt(D))``, and
for small ``s`` ``L ~ log N + (1 - 1/N) s^2 / 2``; at small ``tau`` the loss is far above
``log N``.

The same loss in PyTorch is :func:`seqlab.contrastive_torch.info_nce_torch`.
"""
from __future__ import annotations

import numpy as np

from seqlab.functional import log_softmax


def _check_pairs(queries: np.ndarray, keys: np.ndarray, temperature: float) -> None:
    if queries.ndim != 2 or queries.shape != keys.shape:
        raise ValueError(f"queries and keys must both be (N, D), row i of each a positive pair; got "
                         f"{queries.shape} and {keys.shape}")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")


def l2_normalize(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``x: (N, D)`` scaled to unit length; returns ``(x / |x|, |x|)``, the norms ``(N, 1)``."""
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / norms, norms


def l2_normalize_backward(dunit: np.ndarray, unit: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """Gradient through ``u = x / |x|``: ``dx = (du - u (du . u)) / |x|`` (the radial part is removed)."""
    return (dunit - unit * np.sum(dunit * unit, axis=-1, keepdims=True)) / norms


def info_nce(
    queries: np.ndarray, keys: np.ndarray, temperature: float = 0.1
) -> tuple[float, np.ndarray, np.ndarray]:
    """InfoNCE with in-batch negatives: returns ``(loss, dqueries, dkeys)``.

    queries, keys: (N, D), row i of each a positive pair, compared by cosine
    similarity.
    """
    _check_pairs(queries, keys, temperature)
    N = queries.shape[0]
    q, q_norms = l2_normalize(queries)
    k, k_norms = l2_normalize(keys)
    # (N, N): query i against every key
    scores = q @ k.T / temperature
    log_probs = log_softmax(scores, axis=-1)
    loss = -np.trace(log_probs) / N
    # Cross-entropy's gradient with the diagonal as targets: (softmax - I) /
    # N.
    dscores = np.exp(log_probs)
    dscores[np.diag_indices(N)] -= 1
    dscores /= N
    dq = l2_normalize_backward(dscores @ k / temperature, q, q_norms)
    # key j is scored by every query
    dk = l2_normalize_backward(dscores.T @ q / temperature, k, k_norms)
    return float(loss), dq.astype(queries.dtype), dk.astype(keys.dtype)

