"""ELMo's combination of a language model's layers: a softmax-weighted sum, times a scale.

Taught in: book/09_bert.md

Peters et al. (2018), eq. (1): for a token with representations ``h_0 .. h_{L-1}`` (the token
embedding and each biLSTM layer, both directions side by side),

    s = softmax(w)                    one weight per layer, learned by the task
    ELMo = gamma * sum_j s_j h_j      gamma scales the whole vector

The language model stays frozen; only ``w`` and ``gamma`` (and the task model) are trained. The
PyTorch twin is :class:`seqlab.elmo_torch.TorchScalarMix`; :func:`seqlab.convert.scalar_mix_to_torch`
moves the weights.
"""
from __future__ import annotations

import numpy as np

from seqlab.functional import softmax


class ScalarMix:
    """ELMo's layer combination on ``layers: (L, ..., D) -> (..., D)``.

    Taught in: book/09_bert.md

    Parameters: ``w: (L,)`` the unnormalized layer weights (zeros: an even
    mix), ``gamma: (1,)``.
    """

    param_names = ("w", "gamma")

    def __init__(self, w: np.ndarray, gamma: np.ndarray):
        if w.ndim != 1 or gamma.shape != (1,):
            raise ValueError(
                f"ScalarMix needs w: (L,) and gamma: (1,), got {w.shape} "
                f"and {gamma.shape}"
            )
        self.params = [w, gamma]
        self.grads = [np.zeros_like(w), np.zeros_like(gamma)]
        self.cache = None

    @classmethod
    def init(cls, num_layers: int, dtype=np.float32) -> "ScalarMix":
        return cls(np.zeros(num_layers, dtype), np.ones(1, dtype))

    def forward(self, layers: np.ndarray) -> np.ndarray:
        w, gamma = self.params
        if layers.shape[0] != len(w):
            raise ValueError(
                f"ScalarMix was built for {len(w)} layers, got layers of "
                f"shape {layers.shape} "
                "(the layers go on the first axis)"
            )
        s = softmax(w)
        mixed = np.tensordot(s, layers, axes=1)  # sum_j s_j h_j: (..., D)
        self.cache = (layers, s, mixed)
        return gamma * mixed

    def backward(self, dout: np.ndarray) -> np.ndarray:
        _, gamma = self.params
        layers, s, mixed = self.cache
        self.grads[1][...] = np.sum(dout * mixed)
        # (L,)
        ds = gamma * np.tensordot(
            layers, dout, axes=(range(1, layers.ndim), range(dout.ndim))
        )
        # through the softmax (chapter 1)
        self.grads[0][...] = s * (ds - np.dot(s, ds))
        return gamma * s.reshape(-1, *([1] * dout.ndim)) * dout[None]

