"""The PyTorch twin of :mod:`seqlab.contrastive`: the InfoNCE loss with in-batch negatives.

Taught in: book/10_toolbox.md
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce_torch(queries: torch.Tensor, keys: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """The loss of :func:`seqlab.contrastive.info_nce` in PyTorch: ``F.cross_entropy`` of the cosine
    score matrix against ``arange(N)``."""
    queries, keys = F.normalize(queries, dim=-1), F.normalize(keys, dim=-1)
    scores = queries @ keys.T / temperature
    return F.cross_entropy(scores, torch.arange(scores.shape[0]))
