"""From-scratch NumPy layers. Every layer follows one protocol:

- ``params``: list of parameter arrays; ``grads``: list of arrays of the same shapes, in the same order;
- ``forward(...)`` caches what ``backward`` needs;
- ``backward(dout)`` returns the gradient with respect to the input and writes the parameter
  gradients *in place* (``self.grads[0][...] = dW``), so an optimizer may keep references to them.

Arrays are float32 by default; pass float64 arrays for gradient checks. Shapes use the course's
letters: N batch, T time, D input, H hidden, C (or V) classes.
"""
from __future__ import annotations

import numpy as np

from seqlab.functional import check_target_shape, cross_entropy_from_log_probs, log_softmax, softmax_minus_targets


class Affine:
    """The linear map ``out = x W + b``.

    Taught in: book/01_softmax_ce_kl.md

    W: (D, H), b: (H,). ``torch.nn.Linear`` stores the transpose,
    ``weight: (H, D)``; :mod:`seqlab.convert` moves weights between the two.
    """

    param_names = ("W", "b")

    def __init__(self, W: np.ndarray, b: np.ndarray):
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(
                f"Affine needs W: (D, H) and b: (H,), "
                f"got W: {W.shape} and b: {b.shape}"
            )
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.x = None

    @classmethod
    def init(
        cls, D: int, H: int, rng: np.random.Generator, dtype=np.float32
    ) -> "Affine":
        """Uniform(-1/sqrt(D), 1/sqrt(D)) weights and biases.

        ``nn.Linear``'s default initialization.
        """
        bound = 1 / np.sqrt(D)
        W = rng.uniform(-bound, bound, size=(D, H)).astype(dtype)
        b = rng.uniform(-bound, bound, size=H).astype(dtype)
        return cls(W, b)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, D) or (N, T, D) -> (N, H) or (N, T, H)."""
        W, b = self.params
        if x.shape[-1] != W.shape[0]:
            raise ValueError(
                f"Affine expects inputs with {W.shape[0]} features "
                f"(last axis), got shape {x.shape}"
            )
        self.x = x
        return x @ W + b

    def backward(self, dout: np.ndarray) -> np.ndarray:
        W, _ = self.params
        # Flatten any leading (N, T) axes so one matmul sums the gradient
        # over all of them.
        x2 = self.x.reshape(-1, W.shape[0])  # (N*T, D)
        dout2 = dout.reshape(-1, W.shape[1])  # (N*T, H)
        self.grads[0][...] = x2.T @ dout2
        self.grads[1][...] = dout2.sum(axis=0)
        return dout @ W.T


class SoftmaxCrossEntropy:
    """Softmax followed by the mean cross-entropy loss.

    Its backward is ``(softmax(x) - y) / rows``.

    Taught in: book/01_softmax_ce_kl.md

    Fusing the two is both faster and more stable than backpropagating
    through a separate softmax.
    """

    def __init__(self):
        self.params, self.grads = [], []
        self.cache = None

    def forward(self, logits: np.ndarray, targets: np.ndarray) -> float:
        """logits: (N, C) or (N, T, C).

        targets: class indices (N,) / (N, T), or probabilities.
        """
        check_target_shape(logits, targets)
        log_probs = log_softmax(logits)
        loss = cross_entropy_from_log_probs(log_probs, targets)
        # The softmax, for the backward pass.
        self.cache = (np.exp(log_probs), targets)
        return loss

    def backward(self, dout: float = 1.0) -> np.ndarray:
        probs, targets = self.cache
        rows = int(np.prod(probs.shape[:-1]))
        return softmax_minus_targets(probs, targets) * (dout / rows)


class Embedding:
    """A lookup table from token ids to rows of ``W``: a one-hot vector times ``W``, without the one-hot.

    Taught in: book/02_rnn.md

    W: (V, D). ``torch.nn.Embedding`` stores the same ``weight: (V, D)``, no transpose.
    """

    param_names = ("W",)

    def __init__(self, W: np.ndarray):
        if W.ndim != 2:
            raise ValueError(f"Embedding needs W: (V, D), got W: {W.shape}")
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.ids = None

    @classmethod
    def init(cls, V: int, D: int, rng: np.random.Generator, dtype=np.float32) -> "Embedding":
        """Standard normal entries, ``nn.Embedding``'s default initialization."""
        return cls(rng.standard_normal((V, D)).astype(dtype))

    def forward(self, ids: np.ndarray) -> np.ndarray:
        """ids: integers of any shape, (N,) or (N, T) -> W[ids]: (N, D) or (N, T, D)."""
        ids = np.asarray(ids)
        V = self.params[0].shape[0]
        if not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"Embedding expects integer token ids, got dtype {ids.dtype}")
        # A negative id would silently wrap around to the end of W instead of failing.
        if ids.size and (ids.min() < 0 or ids.max() >= V):
            raise ValueError(f"token ids must lie in [0, {V - 1}] for a vocabulary of V = {V}, "
                             f"got ids in [{ids.min()}, {ids.max()}]")
        self.ids = ids
        return self.params[0][ids]

    def backward(self, dout: np.ndarray) -> None:
        """dout: ids.shape + (D,). Writes dW; returns None: integer ids
        have no gradient."""
        dW = self.grads[0]
        dW[...] = 0
        # np.add.at sums the rows of a token that occurs several times;
        # dW[ids] += dout would keep only one.
        np.add.at(dW, self.ids, dout)
        return None


class Dropout:
    """Inverted dropout: in training, zero each element with probability ``p`` and scale the others
    by ``1 / (1 - p)``; in evaluation, the identity.

    Taught in: book/04_lstm.md

    The scaling happens at training time so that every unit's expected value is the same in both
    modes, and evaluation needs no correction (``nn.Dropout`` does the same). The mask comes from
    the layer's own generator ``rng`` (a ``np.random.Generator`` or a seed), so runs are repeatable.
    ``train()`` and ``eval()`` switch the mode, as in torch; a new layer is in training mode.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | int = 0):
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability p must lie in [0, 1), got {p}: p = 1 would drop every unit")
        self.p = p
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.training = True
        self.params, self.grads = [], []
        self.mask = None  # the scaled mask of the last forward, 0 or 1/(1-p); None when nothing was dropped

    def train(self, mode: bool = True) -> "Dropout":
        self.training = mode
        return self

    def eval(self) -> "Dropout":
        return self.train(False)

    def _mask_shape(self, x: np.ndarray) -> tuple[int, ...]:
        return x.shape

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: any shape -> the same shape and dtype."""
        if not self.training or self.p == 0:
            self.mask = None
            return x
        keep = self.rng.random(self._mask_shape(x)) >= self.p
        self.mask = keep * x.dtype.type(1 / (1 - self.p))
        return x * self.mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        # Each output is x * mask: the gradient goes through the same mask.
        return dout if self.mask is None else dout * self.mask


class VariationalDropout(Dropout):
    """Dropout with one mask per sequence, the same at every time step (Gal
    and Ghahramani, 2016).

    Taught in: book/04_lstm.md

    x: (N, T, D); the mask is (N, 1, D), broadcast over T. A unit dropped for
    a sequence stays dropped for all of it. Gal and Ghahramani argue that
    this suits a recurrent model better than fresh noise at each step; the
    course does not measure it. This is the non-recurrent half of their
    method, which also ties a mask on the recurrent connections.
    """

    def _mask_shape(self, x: np.ndarray) -> tuple[int, ...]:
        if x.ndim != 3:
            raise ValueError(
                "VariationalDropout expects x of shape (N, T, D), got "
                f"{x.shape}: "
                "it shares one mask across the time axis"
            )
        N, _, D = x.shape
        return (N, 1, D)
