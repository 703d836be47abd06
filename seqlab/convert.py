"""Every weight-layout conversion between the course's NumPy layers and ``torch.nn`` lives here.

The NumPy layers compute ``x @ W`` with ``W: (D, H)``; ``torch.nn`` modules compute
``x @ weight.T`` with ``weight: (H, D)``. Moving weights is therefore a transpose, plus, for the
recurrent layers of later chapters, splitting one bias into PyTorch's two.
"""
from __future__ import annotations

import numpy as np
import torch

from seqlab.layers import Affine


def to_torch(x: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    """A tensor with a copy of ``x``'s data and dtype (float32 stays float32)."""
    return torch.tensor(np.ascontiguousarray(x), requires_grad=requires_grad)


def affine_to_linear(affine: Affine) -> torch.nn.Linear:
    """An ``nn.Linear`` computing the same map as ``affine``: ``weight = W.T``, ``bias = b``."""
    W, b = affine.params
    D, H = W.shape
    linear = torch.nn.Linear(D, H, dtype=torch.from_numpy(W).dtype)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(W.T.copy()))
        linear.bias.copy_(torch.from_numpy(b))
    return linear


def linear_to_affine(linear: torch.nn.Linear) -> Affine:
    """The NumPy ``Affine`` of an ``nn.Linear``: ``W = weight.T``, ``b = bias``."""
    weight = linear.weight.detach().cpu().numpy()
    bias = linear.bias.detach().cpu().numpy() if linear.bias is not None else np.zeros(weight.shape[0], weight.dtype)
    return Affine(weight.T.copy(), bias.copy())


def linear_grads_as_affine(linear: torch.nn.Linear) -> list[np.ndarray]:
    """``nn.Linear``'s gradients in ``Affine``'s layout, ``[dW (D, H), db (H,)]``, to compare with ``Affine.grads``."""
    return [linear.weight.grad.detach().cpu().numpy().T, linear.bias.grad.detach().cpu().numpy()]
