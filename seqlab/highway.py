"""Highway layer: a learned gate mixes a transformation of the input with the input itself.

Taught in: book/10_toolbox.md

    h = relu(x W_h + b_h)            candidate (the transform)
    t = sigmoid(x W_t + b_t)         transform gate; the carry gate is 1 - t
    y = t * h + (1 - t) * x

Srivastava, Greff and Schmidhuber (2015). With ``t`` near 0 the layer passes ``x`` through almost
unchanged. The carry path scales the gradient by ``1 - t`` at every layer, not by 1, so how close a
deep stack starts to the identity is set by the gate's bias; a residual connection (``y = x + f(x)``)
has a carry of exactly 1 and no gate. ELMo's character encoder uses two highway layers.

The PyTorch twin is :class:`seqlab.highway_torch.TorchHighway`; :mod:`seqlab.convert` moves the
weights (:func:`~seqlab.convert.highway_to_torch`) and the gradients
(:func:`~seqlab.convert.torch_highway_grads_as_numpy`).
"""
from __future__ import annotations

import numpy as np

from seqlab.lstm import sigmoid


class Highway:
    """One highway layer on ``x: (..., D) -> (..., D)``, with one fused
    matmul for both branches.

    Taught in: book/10_toolbox.md

    ``W: (D, 2D)`` and ``b: (2D,)`` hold the candidate's columns first, then
    the gate's: ``x W = [x W_h | x W_t]``, the layout of ``nn.Linear(D, 2D)``
    (``weight = W.T``) whose output is split with ``chunk(2, dim=-1)``, as in
    :class:`seqlab.highway_torch.TorchHighway`.
    """

    param_names = ("W", "b")

    def __init__(self, W: np.ndarray, b: np.ndarray):
        D = W.shape[0]
        if W.shape != (D, 2 * D) or b.shape != (2 * D,):
            raise ValueError(
                "a highway layer needs W of shape (D, 2D) and b of shape "
                f"(2D,), got W {W.shape} "
                f"and b {b.shape}"
            )
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.cache = None

    @classmethod
    def init(
        cls,
        D: int,
        rng: np.random.Generator,
        gate_bias: float = -1.0,
        dtype=np.float32,
    ) -> "Highway":
        """He-scaled weights; the gate's bias starts at ``gate_bias`` < 0, so
        the layer starts by carrying.

        The paper recommends -1 to -3 for deep stacks: sigmoid(-1) = 0.27 of
        the transform.
        """
        W = (rng.standard_normal((D, 2 * D)) * np.sqrt(2.0 / D)).astype(
            dtype
        )
        b = np.zeros(2 * D, dtype=dtype)
        b[D:] = gate_bias
        return cls(W, b)

    def forward(self, x: np.ndarray) -> np.ndarray:
        W, b = self.params
        D = W.shape[0]
        if x.shape[-1] != D:
            raise ValueError(
                f"Highway expects x with last axis D = {D}, got shape "
                f"{x.shape}"
            )
        pre = x @ W + b                            # (..., 2D)
        h = np.maximum(pre[..., :D], 0)            # candidate
        t = sigmoid(pre[..., D:])                  # transform gate
        self.cache = (x, h, t)
        return t * h + (1 - t) * x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        x, h, t = self.cache
        W, _ = self.params
        dh_pre = dout * t * (h > 0)                # through relu
        # dy/dt = h - x, then the sigmoid's derivative
        dt_pre = dout * (h - x) * t * (1 - t)
        dpre = np.concatenate([dh_pre, dt_pre], axis=-1)          # (..., 2D)
        D = W.shape[0]
        self.grads[0][...] = x.reshape(-1, D).T @ dpre.reshape(-1, 2 * D)
        self.grads[1][...] = dpre.reshape(-1, 2 * D).sum(axis=0)
        # x reaches y twice: through the carry (1 - t) * x, and through both
        # pre-activations.
        return dout * (1 - t) + dpre @ W.T

