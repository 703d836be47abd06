"""The PyTorch twin of :mod:`seqlab.elmo`: ELMo's scalar mix of a language model's layers.

Taught in: book/09_bert.md

:func:`seqlab.convert.scalar_mix_to_torch` loads a NumPy :class:`seqlab.elmo.ScalarMix`'s weights.
"""
from __future__ import annotations

import torch


class TorchScalarMix(torch.nn.Module):
    """The PyTorch twin of :class:`seqlab.elmo.ScalarMix` (as AllenNLP's ``ScalarMix``, without its layer norm option)."""

    def __init__(self, num_layers: int):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(num_layers))
        self.gamma = torch.nn.Parameter(torch.ones(1))

    def forward(self, layers: torch.Tensor) -> torch.Tensor:
        s = torch.softmax(self.w, dim=0)
        return self.gamma * torch.tensordot(s, layers, dims=1)

