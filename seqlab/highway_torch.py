"""The PyTorch twin of :mod:`seqlab.highway`: the highway layer as one ``nn.Linear(D, 2D)``.

Taught in: book/10_toolbox.md

:func:`seqlab.convert.highway_to_torch` loads a NumPy :class:`seqlab.highway.Highway`'s weights, and
:func:`seqlab.convert.torch_highway_grads_as_numpy` reads the gradients back in its layout.
"""
from __future__ import annotations

import torch


class TorchHighway(torch.nn.Module):
    """The PyTorch highway layer: ``nn.Linear(D, 2D)``, split into candidate and gate.

    Taught in: book/10_toolbox.md
    """

    def __init__(self, D: int, gate_bias: float = -1.0):
        super().__init__()
        self.linear = torch.nn.Linear(D, 2 * D)
        with torch.no_grad():
            self.linear.bias[D:].fill_(gate_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h_pre, t_pre = self.linear(x).chunk(2, dim=-1)
        h, t = torch.relu(h_pre), torch.sigmoid(t_pre)
        return t * h + (1 - t) * x

