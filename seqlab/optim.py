"""Optimizers and gradient clipping, shared by every training loop of the course.

Taught in: book/02_rnn.md (SGD, Adam), book/03_gradient_flow.md (clipping)

An optimizer updates ``params`` in place from ``grads`` (two matching lists of arrays, the layer
protocol's), so that models and optimizers can hold references to the same arrays.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def _check_pairs(params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
    if len(params) != len(grads):
        raise ValueError(f"got {len(params)} parameters but {len(grads)} gradients: pass matching lists")
    for i, (p, g) in enumerate(zip(params, grads)):
        if p.shape != g.shape:
            raise ValueError(f"parameter {i} has shape {p.shape} but its gradient has shape {g.shape}")


class SGD:
    """Plain stochastic gradient descent, ``p -= lr * g``; ``torch.optim.SGD`` without momentum."""

    def __init__(self, lr: float = 0.01):
        if not lr > 0:
            raise ValueError(f"the learning rate must be positive, got lr={lr}")
        self.lr = lr

    def update(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        _check_pairs(params, grads)
        for p, g in zip(params, grads):
            p -= self.lr * g


class Adam:
    """Adam (Kingma and Ba, 2015) with bias correction; ``torch.optim.Adam`` with the same defaults.

    m and v are running means of g and g**2; dividing one bias-corrected mean by the square root of
    the other makes every entry's step at most about ``lr`` in size, at a size that does not depend
    on the scale of its gradient (multiplying a gradient by a constant leaves the steps unchanged).
    """

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        if not lr > 0:
            raise ValueError(f"the learning rate must be positive, got lr={lr}")
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.step = 0
        self.m: list[np.ndarray] | None = None
        self.v: list[np.ndarray] | None = None

    def update(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        _check_pairs(params, grads)
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        elif len(self.m) != len(params):
            raise ValueError("this Adam was used with a different list of parameters: create one optimizer per model")
        self.step += 1
        correction1 = 1 - self.beta1**self.step
        correction2 = 1 - self.beta2**self.step
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m += (1 - self.beta1) * (g - m)
            v += (1 - self.beta2) * (g * g - v)
            p -= (self.lr / correction1) * m / (np.sqrt(v / correction2) + self.eps)


def global_norm(grads: Sequence[np.ndarray]) -> float:
    """The L2 norm of all gradients concatenated into one vector, ``sqrt(sum_k ||g_k||^2)``."""
    # vdot is one BLAS dot product per array (g . g), with no squared copy of g in memory. In
    # float32 a square overflows past about 1.8e19: then sum again in float64, where only a real
    # inf or NaN is not finite.
    total = sum(float(np.vdot(g, g)) for g in grads)
    if not math.isfinite(total):
        total = sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads)
    return math.sqrt(total)


def clip_grads_by_global_norm(grads: Sequence[np.ndarray], max_norm: float) -> float:
    """Scale every gradient in place by ``max_norm / (||g|| + 1e-6)`` when the global norm ``||g||`` exceeds ``max_norm``.

    ``g`` is every gradient concatenated into one vector (not their sum), so clipping keeps the
    direction of the whole update. The ``1e-6`` is ``torch.nn.utils.clip_grad_norm_``'s, so that
    both clip to the same numbers; the clipped norm is then a hair below ``max_norm``. Returns the
    norm before clipping, as torch does. Unlike torch's default, a non-finite norm raises
    ``FloatingPointError`` and leaves the gradients unchanged, and the norm is summed in float64.
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    total = global_norm(grads)
    if not math.isfinite(total):
        raise FloatingPointError(f"the global gradient norm is {total}: a gradient holds inf or NaN, "
                                 "so there is no direction to keep; lower the learning rate or find the overflow")
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            g *= scale
    return total
