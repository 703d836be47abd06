"""Optimizers and gradient clipping, shared by every training loop of the course.

Taught in: book/01_softmax_ce_kl.md (SGD, Adam and AdamW, with both kinds of weight decay),
book/03_gradient_flow.md (clipping); used by every training loop from book/02_rnn.md on.

An optimizer updates ``params`` in place from ``grads`` (two matching lists of arrays, the layer
protocol's), so that models and optimizers can hold references to the same arrays.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np


Arrays = Sequence[np.ndarray]


def _check_pairs(params: Arrays, grads: Arrays) -> None:
    if len(params) != len(grads):
        raise ValueError(f"got {len(params)} parameters but {len(grads)} gradients: "
                         "pass matching lists")
    for i, (p, g) in enumerate(zip(params, grads)):
        if p.shape != g.shape:
            raise ValueError(f"parameter {i} has shape {p.shape} "
                             f"but its gradient has shape {g.shape}")


def _check_settings(lr: float, weight_decay: float) -> None:
    if not lr > 0:
        raise ValueError(f"the learning rate must be positive, got lr={lr}")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be 0 or positive, got weight_decay={weight_decay}")


class SGD:
    """Gradient descent, ``W -= lr * (g + weight_decay * W)``;
    ``torch.optim.SGD`` without momentum.

    Taught in: book/01_softmax_ce_kl.md

    ``weight_decay`` (lambda) adds ``lambda * W`` to every gradient: the
    gradient of an L2 penalty ``(lambda / 2) * ||W||^2`` in the loss. With 0,
    the default, the step is plain ``W -= lr * g``.
    """

    def __init__(self, lr: float = 0.01, weight_decay: float = 0.0):
        _check_settings(lr, weight_decay)
        self.lr, self.weight_decay = lr, weight_decay

    def update(self, params: Arrays, grads: Arrays) -> None:
        _check_pairs(params, grads)
        for W, g in zip(params, grads):
            if self.weight_decay:
                g = g + self.weight_decay * W  # the L2 penalty's gradient
            W -= self.lr * g


class Adam:
    """Adam (Kingma and Ba, 2015) with bias correction; ``torch.optim.Adam`` with the same defaults.

    Taught in: book/01_softmax_ce_kl.md

    m and v are running means of g and g**2; dividing one bias-corrected mean by the square root of
    the other makes every entry's step at most about ``lr`` in size, at a size that does not depend
    on the scale of its gradient (multiplying a gradient by a constant leaves the steps unchanged).

    ``weight_decay`` (lambda, default 0) is coupled, as in ``torch.optim.Adam``: ``lambda * W``
    joins the gradient, and so the running means, and is divided by ``sqrt(v_hat)`` with the rest.
    With ``decoupled_weight_decay=True`` (what :class:`AdamW` sets) the weights shrink directly,
    ``W -= lr * lambda * W``, and the Adam step sees the loss's gradient alone.
    """

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0,
                 decoupled_weight_decay: bool = False):
        _check_settings(lr, weight_decay)
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.weight_decay, self.decoupled_weight_decay = weight_decay, decoupled_weight_decay
        self.step = 0
        self.m: list[np.ndarray] | None = None
        self.v: list[np.ndarray] | None = None

    def update(self, params: Arrays, grads: Arrays) -> None:
        _check_pairs(params, grads)
        if self.m is None:  # m = v = 0 at the start, one of each per array
            self.m = [np.zeros_like(W) for W in params]
            self.v = [np.zeros_like(W) for W in params]
        elif len(self.m) != len(params):
            raise ValueError("this Adam was used with another list of "
                             "parameters: create one optimizer per model")
        self.step += 1  # t, counted from 1
        for W, g, m, v in zip(params, grads, self.m, self.v):
            if self.weight_decay and self.decoupled_weight_decay:
                W -= self.lr * self.weight_decay * W  # AdamW: not in m, v
            elif self.weight_decay:
                g = g + self.weight_decay * W  # Adam: lambda W joins g
            m += (1 - self.beta1) * (g - m)      # beta1 m + (1 - beta1) g
            v += (1 - self.beta2) * (g * g - v)  # beta2 v + (1 - beta2) g^2
            # lr * m_hat = step_size * m: m's bias correction is in the step
            step_size = self.lr / (1 - self.beta1**self.step)
            v_hat = v / (1 - self.beta2**self.step)
            W -= step_size * m / (np.sqrt(v_hat) + self.eps)


class AdamW(Adam):
    """AdamW (Loshchilov and Hutter, 2019), Adam with decoupled weight
    decay; ``torch.optim.AdamW``.

    Taught in: book/01_softmax_ce_kl.md

    Each step first shrinks every weight, ``W -= lr * weight_decay * W``,
    then takes Adam's step on the loss's gradient alone. The default
    ``weight_decay=0.01`` is torch's.
    """

    def __init__(self, lr: float = 0.001, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.01):
        super().__init__(lr, beta1, beta2, eps, weight_decay,
                         decoupled_weight_decay=True)


def global_norm(grads: Sequence[np.ndarray]) -> float:
    """The L2 norm of all gradients concatenated into one vector,
    ``sqrt(sum_k ||g_k||^2)``."""
    # vdot is one BLAS dot product per array (g . g), with no squared copy of
    # g in memory. In float32 a square overflows past about 1.8e19: then sum
    # again in float64, where only a real inf or NaN is not finite.
    total = sum(float(np.vdot(g, g)) for g in grads)
    if not math.isfinite(total):
        total = sum(
            float(np.sum(np.square(g, dtype=np.float64))) for g in grads
        )
    return math.sqrt(total)


def clip_grads_by_global_norm(
    grads: Sequence[np.ndarray], max_norm: float
) -> float:
    """Scale every gradient in place by ``max_norm / (||g|| + 1e-6)`` when
    the global norm ``||g||`` exceeds ``max_norm``.

    ``g`` is every gradient concatenated into one vector (not their sum), so
    clipping keeps the direction of the whole update. The ``1e-6`` is
    ``torch.nn.utils.clip_grad_norm_``'s, so that both clip to the same
    numbers; the clipped norm is then a hair below ``max_norm``. Returns the
    norm before clipping, as torch does. Unlike torch's default, a non-finite
    norm raises ``FloatingPointError`` and leaves the gradients unchanged,
    and the norm is summed in float64.
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    total = global_norm(grads)
    if not math.isfinite(total):
        raise FloatingPointError(
            f"the global gradient norm is {total}: a gradient holds inf or "
            "NaN, so there is no direction to keep; lower the learning rate "
            "or find the overflow"
        )
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            g *= scale
    return total
