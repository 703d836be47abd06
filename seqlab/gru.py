"""The GRU in PyTorch's variant: one step, the step unrolled over time, and stacks and pairs of those.

Taught in: book/05_gru.md

A step reads ``x: (N, D)`` and ``h_prev: (N, H)``; its three gates come in **PyTorch's order
r, z, n** (blocks of H columns):

    r = sigmoid(x W_xr + h_prev W_hr + b_r)             reset gate
    z = sigmoid(x W_xz + h_prev W_hz + b_z)             update gate
    n = tanh(x W_xn + b_n + r * (h_prev W_hn + b_hn))   candidate
    h_next = (1 - z) * n + z * h_prev

The reset gate multiplies ``h_prev W_hn + b_hn``, *after* the matmul (the original paper of Cho
et al. applies it before, to ``h_prev``). That is why ``b_hn`` cannot be merged into ``b_n``:
``r`` scales one and not the other. So the layer has four parameters: ``Wx: (D, 3H)``,
``Wh: (H, 3H)``, ``b: (3H,)`` (for r and z the sum of PyTorch's two biases, for n its ``b_in``)
and ``b_hn: (H,)``. :mod:`seqlab.convert` moves them to and from ``nn.GRU`` and ``nn.GRUCell``.

Other conventions: Chung et al. (2014) and many textbooks write ``h = (1 - z) * h_prev + z * n``,
their z being this z's ``1 - z`` (a relabeling). "Deep Learning from Scratch 2" (its
``common/time_layers.py``) orders the blocks z, r, h~, has no bias, mixes as Chung et al. do and
applies the reset gate before the matmul, as Cho et al. do: a different function from this one.
"""
from __future__ import annotations

import functools

import numpy as np

from seqlab.rnn import Bidirectional, SingleStateTimeLayer, Stacked, _check_shape, _checked_weights, _init_weights

NUM_GATES = 3  # r, z, n


@functools.cache
def _tanh_form(H: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, offset)``, each (2H,): ``sigmoid(a) = 0.5 tanh(0.5 a) + 0.5`` for r and z. Read-only."""
    half = np.full(2 * H, 0.5, dtype)
    half.flags.writeable = False
    return half, half


def gru_pointwise_forward(xa: np.ndarray, ha: np.ndarray, h_prev: np.ndarray, b_hn: np.ndarray):
    """The part of a step after the two matmuls.

    xa = x Wx + b: (N, 3H) and ha = h_prev Wh: (N, 3H), the pre-activations from the input and
    from the state; h_prev: (N, H) -> ``h_next: (N, H)``, ``gates: (N, 3H)`` (r, z, n after
    their nonlinearities) and ``hn = h_prev W_hn + b_hn: (N, H)``, which the backward pass needs.
    """
    H = h_prev.shape[-1]
    scale, offset = _tanh_form(H, xa.dtype)
    gates = np.empty_like(xa)
    rz = gates[:, : 2 * H]
    np.add(xa[:, : 2 * H], ha[:, : 2 * H], out=rz)
    rz *= scale  # sigmoid(a) = 0.5 tanh(0.5 a) + 0.5: one tanh, never an overflowing exp
    np.tanh(rz, out=rz)
    rz *= scale
    rz += offset
    r, z = gates[:, :H], gates[:, H : 2 * H]
    hn = ha[:, 2 * H :] + b_hn
    gates[:, 2 * H :] = np.tanh(xa[:, 2 * H :] + r * hn)
    n = gates[:, 2 * H :]
    h_next = n + z * (h_prev - n)  # = (1 - z) * n + z * h_prev, one multiplication fewer
    return h_next, gates, hn


def gru_pointwise_backward(dh_next, h_prev, gates, hn):
    """Gradients of :func:`gru_pointwise_forward` from ``dh_next: (N, H)``:
    ``(dxa: (N, 3H), dha: (N, 3H), dh_prev_direct: (N, H))``, the last being the part of
    ``dL/dh_prev`` that does not go through ``Wh`` (the ``z * h_prev`` path)."""
    H = h_prev.shape[-1]
    r, z, n = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H :]
    dxa = np.empty_like(gates)
    dha = np.empty_like(gates)
    da_n = dh_next * (1 - z) * (1 - n**2)  # through n's tanh
    dxa[:, 2 * H :] = da_n
    dha[:, 2 * H :] = da_n * r  # the reset gate scales the state's share of n
    dxa[:, :H] = da_n * hn * r * (1 - r)  # dr, through its sigmoid
    dxa[:, H : 2 * H] = dh_next * (h_prev - n) * z * (1 - z)  # dz, through its sigmoid
    dha[:, : 2 * H] = dxa[:, : 2 * H]  # r and z add their two pre-activations: equal gradients
    return dxa, dha, dh_next * z


def gru_step_forward(x, h_prev, Wx, Wh, b, b_hn):
    """One GRU step. x: (N, D), h_prev: (N, H) -> h_next: (N, H), and the cache that
    :func:`gru_step_backward` needs. Wx: (D, 3H), Wh: (H, 3H), b: (3H,), b_hn: (H,); gates r, z, n."""
    h_next, gates, hn = gru_pointwise_forward(x @ Wx + b, h_prev @ Wh, h_prev, b_hn)
    return h_next, (x, h_prev, gates, hn)


def gru_step_backward(dh_next, cache, Wx, Wh):
    """Gradients of one step from ``dh_next: (N, H)``: ``(dx, dh_prev, dWx, dWh, db, db_hn)``."""
    x, h_prev, gates, hn = cache
    H = h_prev.shape[-1]
    dxa, dha, dh_prev_direct = gru_pointwise_backward(dh_next, h_prev, gates, hn)
    dh_prev = dh_prev_direct + dha @ Wh.T
    return dxa @ Wx.T, dh_prev, x.T @ dxa, h_prev.T @ dha, dxa.sum(axis=0), dha[:, 2 * H :].sum(axis=0)


def _checked_gru_weights(owner: str, Wx, Wh, b, b_hn) -> list[np.ndarray]:
    params = _checked_weights(owner, Wx, Wh, b, num_gates=NUM_GATES)
    _check_shape(owner, "b_hn", b_hn, "(H,)", (Wh.shape[0],))
    return [*params, b_hn]


def _init_gru_weights(D: int, H: int, rng: np.random.Generator, dtype) -> list[np.ndarray]:
    """Uniform(-1/sqrt(H), 1/sqrt(H)), ``nn.GRU``'s default, for Wx, Wh, b and b_hn."""
    bound = 1 / np.sqrt(H)
    return [*_init_weights(D, H, rng, dtype, num_gates=NUM_GATES), rng.uniform(-bound, bound, H).astype(dtype)]


class GRU:
    """One GRU step as a layer: ``forward(x, h_prev) -> h_next``; ``nn.GRUCell``'s job.

    Taught in: book/05_gru.md

    x: (N, D), h_prev and h_next: (N, H). ``backward(dh_next)`` returns ``(dx, dh_prev)``.
    Parameters ``Wx: (D, 3H)``, ``Wh: (H, 3H)``, ``b: (3H,)``, ``b_hn: (H,)``, gates r, z, n.
    """

    param_names = ("Wx", "Wh", "b", "b_hn")

    def __init__(self, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray, b_hn: np.ndarray):
        self.params = _checked_gru_weights("GRU", Wx, Wh, b, b_hn)
        self.grads = [np.zeros_like(p) for p in self.params]
        self.cache = None

    @classmethod
    def init(cls, D: int, H: int, rng: np.random.Generator, dtype=np.float32) -> "GRU":
        """Uniform(-1/sqrt(H), 1/sqrt(H)) parameters, ``nn.GRUCell``'s default initialization."""
        return cls(*_init_gru_weights(D, H, rng, dtype))

    @property
    def hidden_size(self) -> int:
        return self.params[1].shape[0]

    def forward(self, x: np.ndarray, h_prev: np.ndarray) -> np.ndarray:
        Wx = self.params[0]
        _check_shape("GRU", "x", x, "(N, D)", (None, Wx.shape[0]))
        _check_shape("GRU", "h_prev", h_prev, "(N, H)", (len(x), self.hidden_size))
        h_next, self.cache = gru_step_forward(x, h_prev, *self.params)
        return h_next

    def backward(self, dh_next: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.cache is None:
            raise RuntimeError("GRU.backward needs the cache of a forward pass: call forward first")
        Wx, Wh = self.params[:2]
        dx, dh_prev, *dparams = gru_step_backward(dh_next, self.cache, Wx, Wh)
        for grad, dparam in zip(self.grads, dparams):
            grad[...] = dparam
        return dx, dh_prev


class TimeGRU(SingleStateTimeLayer):
    """A GRU unrolled over time: ``xs: (N, T, D) -> hs: (N, T, H)``; ``nn.GRU`` with one layer.

    Taught in: book/05_gru.md

    State, statefulness and truncated BPTT work as in ``TimeRNN``: one state ``h: (N, H)``,
    ``set_state(h)``, ``reset_state()``, ``self.dh = dL/dh0`` after ``backward``, and
    ``final_hidden_states()`` gives ``h_n: (1, N, H)``. The gates of the last forward, after their
    nonlinearities, stay in ``self.gates: (N, T, 3H)`` (blocks r, z, n).
    """

    param_names = ("Wx", "Wh", "b", "b_hn")
    state_names = ("h",)
    gate_names = ("r", "z", "n")
    num_directions = 1

    def __init__(self, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray, b_hn: np.ndarray, stateful: bool = False):
        self.params = _checked_gru_weights("TimeGRU", Wx, Wh, b, b_hn)
        self.grads = [np.zeros_like(p) for p in self.params]
        self.stateful = stateful
        self.h0 = None  # (N, H) the next call starts from; None means zeros
        self.h = None  # (N, H) last state of the last call
        self.dh = None  # (N, H) gradient with respect to h0, set by backward
        self.gates = None  # (N, T, 3H): r, z, n of the last forward
        self.cache = None

    @classmethod
    def init(cls, D: int, H: int, rng: np.random.Generator, dtype=np.float32, stateful: bool = False) -> "TimeGRU":
        """Uniform(-1/sqrt(H), 1/sqrt(H)) parameters, ``nn.GRU``'s default initialization."""
        return cls(*_init_gru_weights(D, H, rng, dtype), stateful=stateful)

    def gate(self, name: str) -> np.ndarray:
        """One gate of the last forward, ``(N, T, H)``: ``"r"``, ``"z"`` or ``"n"``."""
        if name not in self.gate_names:
            raise ValueError(f"a GRU has the gates {self.gate_names}, not {name!r}")
        if self.gates is None:
            raise RuntimeError("TimeGRU has no gates yet: call forward first")
        H, k = self.hidden_size, self.gate_names.index(name)
        return self.gates[..., k * H : (k + 1) * H]

    def forward(self, xs: np.ndarray) -> np.ndarray:
        Wx, Wh, b, b_hn = self.params
        _check_shape("TimeGRU", "xs", xs, "(N, T, D)", (None, None, self.input_size))
        N, T, D = xs.shape
        H = self.hidden_size
        dtype = np.result_type(xs, Wx)
        h0 = np.zeros((N, H), dtype) if self.h0 is None else self.h0
        if h0.shape != (N, H):
            raise ValueError(f"TimeGRU starts from a state of shape {h0.shape} but xs has batch size {N}: "
                             f"call reset_state() when the batch size changes, or set_state(h) with h: (N, H)")
        # Time-major inside, (T, N, .), so that step t's slice is contiguous; the input side of
        # every gate, x_t Wx + b, is one matmul for all steps.
        xs_flat = xs.transpose(1, 0, 2).reshape(T * N, D)
        xas = (xs_flat @ Wx).reshape(T, N, 3 * H)
        xas += b
        hs = np.empty((T + 1, N, H), dtype)  # hs[t + 1] = h_t, and hs[0] = h0: step t reads hs[t]
        gates = np.empty((T, N, 3 * H), dtype)
        hns = np.empty((T, N, H), dtype)
        hs[0] = h0
        for t in range(T):
            hs[t + 1], gates[t], hns[t] = gru_pointwise_forward(xas[t], hs[t] @ Wh, hs[t], b_hn)
        self.cache = (xs_flat, hs, gates, hns)
        self.gates = gates.transpose(1, 0, 2)  # (N, T, 3H), a view of the cache: kept read-only
        self.gates.flags.writeable = False
        self.h = hs[T].copy()
        if self.stateful:
            self.h0 = self.h
        return np.ascontiguousarray(hs[1:].transpose(1, 0, 2))  # (N, T, H)

    def backward(self, dhs: np.ndarray, dh_last: np.ndarray | None = None) -> np.ndarray:
        """Backpropagation through time: ``dhs: (N, T, H) -> dxs: (N, T, D)``.

        dh_last: (N, H), a gradient flowing into the last state from outside the outputs. Sets
        ``self.dh = dL/dh0`` and the parameter gradients, summed over the T steps.
        """
        if self.cache is None:
            raise RuntimeError("TimeGRU.backward needs the cache of a forward pass: call forward first")
        Wx, Wh = self.params[:2]
        xs_flat, hs, gates, hns = self.cache
        T, N, H = hns.shape
        _check_shape("TimeGRU", "dhs", dhs, "(N, T, H)", (N, T, H))
        if dh_last is not None:
            _check_shape("TimeGRU", "dh_last", dh_last, "(N, H)", (N, H))
        dtype = np.result_type(dhs, Wx)
        dh = np.zeros((N, H), dtype) if dh_last is None else dh_last
        dxas = np.empty((T, N, 3 * H), dtype)  # gradients of the input-side and state-side
        dhas = np.empty((T, N, 3 * H), dtype)  # pre-activations of every step
        for t in reversed(range(T)):
            dxa, dha, dh_direct = gru_pointwise_backward(dhs[:, t] + dh, hs[t], gates[t], hns[t])
            dxas[t], dhas[t] = dxa, dha
            dh = dh_direct + dha @ Wh.T
        self.dh = dh
        dxas_flat, dhas_flat = dxas.reshape(T * N, 3 * H), dhas.reshape(T * N, 3 * H)
        self.grads[0][...] = xs_flat.T @ dxas_flat
        self.grads[1][...] = hs[:-1].reshape(T * N, H).T @ dhas_flat  # step t read h_{t-1} = hs[t]
        self.grads[2][...] = dxas_flat.sum(axis=0)
        self.grads[3][...] = dhas_flat[:, 2 * H :].sum(axis=0)
        dxs = (dxas_flat @ Wx.T).reshape(T, N, -1)
        return np.ascontiguousarray(dxs.transpose(1, 0, 2))  # (N, T, D)


class BidirectionalGRU(Bidirectional):
    """Two TimeGRUs, one per direction: ``nn.GRU(bidirectional=True)``. See :class:`seqlab.rnn.Bidirectional`.

    Taught in: book/05_gru.md
    """

    time_layer = TimeGRU


class StackedGRU(Stacked):
    """TimeGRUs (or BidirectionalGRUs) on top of each other: ``nn.GRU(num_layers=L)``. See :class:`seqlab.rnn.Stacked`.

    Taught in: book/05_gru.md
    """

    time_layer = TimeGRU
    bidirectional_layer = BidirectionalGRU
