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
``common/time_layers.py``, ``GRU(Wx, Wh, b)``) orders the blocks z, r, h~, with one bias
``b: (3H,)`` in the same blocks (an early version of the repository had none; no ``b_hn``), mixes
as Chung et al. do and applies the reset gate before the matmul, as Cho et al. do: a different
function from this one.

The math lives in the functions below, written as the equations above: :func:`gru_pointwise_forward`
and :func:`gru_pointwise_backward` (a step after its two matmuls), :func:`gru_step_forward` and
:func:`gru_step_backward` (the whole step), and :func:`time_gru_forward` and :func:`time_gru_backward`
(the step over T steps). :class:`TimeGRU` runs the last two, or by default their twins in
:mod:`seqlab.fused`: the same math with fewer NumPy operations, faster, and tested equal.
"""
from __future__ import annotations

import numpy as np

from seqlab import fused
from seqlab.lstm import _read_only, sigmoid
from seqlab.rnn import Bidirectional, SingleStateTimeLayer, Stacked, _check_shape, _checked_weights, _init_weights

NUM_GATES = 3  # r, z, n


def gru_pointwise_forward(xa, ha, h_prev, b_hn):
    """A step after its two matmuls: xa = x Wx + b: (N, 3H) and
    ha = h_prev Wh: (N, 3H), the pre-activations from the input and from
    the state, and h_prev: (N, H) -> h_next: (N, H), the gates (r, z, n),
    each (N, H), and hn = h_prev W_hn + b_hn: (N, H) for the backward."""
    H = h_prev.shape[-1]
    r = sigmoid(xa[:, :H] + ha[:, :H])  # reset gate
    z = sigmoid(xa[:, H : 2 * H] + ha[:, H : 2 * H])  # update gate
    hn = ha[:, 2 * H :] + b_hn  # the state's part of n, before r scales it
    n = np.tanh(xa[:, 2 * H :] + r * hn)  # candidate
    h_next = (1 - z) * n + z * h_prev
    return h_next, (r, z, n), hn


def gru_pointwise_backward(dh_next, h_prev, gates, hn):
    """Gradients of gru_pointwise_forward from dh_next: (N, H): (dxa, dha),
    each (N, 3H), and dh_prev_direct: (N, H), the part of dL/dh_prev that
    does not go through Wh (the path z * h_prev)."""
    r, z, n = gates
    # h_next = (1 - z) * n + z * h_prev: n and z each scale one term.
    dn, dz = dh_next * (1 - z), dh_next * (h_prev - n)
    da_n = dn * (1 - n**2)  # through n's tanh
    # n reads r * hn: r's gradient is hn's share, hn's is r's.
    dr, dhn = da_n * hn, da_n * r
    da_r, da_z = dr * r * (1 - r), dz * z * (1 - z)  # through the sigmoids
    dxa = np.concatenate([da_r, da_z, da_n], axis=1)  # input side
    dha = np.concatenate([da_r, da_z, dhn], axis=1)  # state side
    return dxa, dha, dh_next * z


def gru_step_forward(x, h_prev, Wx, Wh, b, b_hn):
    """One GRU step: x: (N, D), h_prev: (N, H) -> h_next: (N, H) and the
    cache for gru_step_backward. Wx: (D, 3H), Wh: (H, 3H), b: (3H,),
    b_hn: (H,); gate blocks r, z, n."""
    xa, ha = x @ Wx + b, h_prev @ Wh  # (N, 3H) each
    h_next, gates, hn = gru_pointwise_forward(xa, ha, h_prev, b_hn)
    return h_next, (x, h_prev, gates, hn)


def gru_step_backward(dh_next, cache, Wx, Wh):
    """Gradients of one step from dh_next: (N, H):
    (dx, dh_prev, dWx, dWh, db, db_hn)."""
    x, h_prev, gates, hn = cache
    H = h_prev.shape[-1]
    dxa, dha, dh_prev_direct = gru_pointwise_backward(
        dh_next, h_prev, gates, hn
    )
    dx, dh_prev = dxa @ Wx.T, dh_prev_direct + dha @ Wh.T
    dWx, dWh, db = x.T @ dxa, h_prev.T @ dha, dxa.sum(axis=0)
    return dx, dh_prev, dWx, dWh, db, dha[:, 2 * H :].sum(axis=0)


def time_gru_forward(xs, Wx, Wh, b, b_hn, h0):
    """The step over a sequence: xs: (N, T, D) and the first state
    h0: (N, H) -> hs: (N, T, H), and the cache for the backward pass:
    hs, (T + 1, N, H), with hs[0] = h0 and hs[t + 1] = h_t; the gates,
    (T, 3, N, H): r, z, n of every step; hns, (T, N, H)."""
    N, T, D = xs.shape
    H = Wh.shape[0]
    dtype = np.result_type(xs, Wx)
    # Time-major inside, (T, N, .): step t's slice is one contiguous block.
    xs_flat = xs.transpose(1, 0, 2).reshape(T * N, D)  # a copy
    # The input side of every gate, x_t Wx + b: one matmul for all steps.
    xas = (xs_flat @ Wx + b).reshape(T, N, 3 * H)
    hs = np.empty((T + 1, N, H), dtype)  # step t reads hs[t], writes hs[t+1]
    gates = np.empty((T, NUM_GATES, N, H), dtype)
    hns = np.empty((T, N, H), dtype)
    hs[0] = h0
    for t in range(T):
        ha = hs[t] @ Wh
        h, gates[t], hns[t] = gru_pointwise_forward(xas[t], ha, hs[t], b_hn)
        hs[t + 1] = h
    hs_out = hs[1:].transpose(1, 0, 2)  # (N, T, H)
    return np.ascontiguousarray(hs_out), (xs_flat, hs, gates, hns)


def time_gru_backward(dhs, dh_last, cache, Wx, Wh):
    """Backpropagation through time: dhs: (N, T, H), and dh_last: (N, H) or
    None, a gradient flowing into the last state from outside the outputs
    -> (dxs: (N, T, D), dh0: (N, H), dWx, dWh, db, db_hn), the parameter
    gradients summed over the T steps."""
    xs_flat, hs, gates, hns = cache
    T, N, H = hns.shape
    dtype = np.result_type(dhs, Wx)
    dh = np.zeros((N, H), dtype) if dh_last is None else dh_last
    dxas = np.empty((T, N, 3 * H), dtype)  # dL/d(input side) of every step
    dhas = np.empty((T, N, 3 * H), dtype)  # dL/d(state side) of every step
    for t in reversed(range(T)):
        # h_t feeds the output (dhs[:, t]) and the next step (dh): they add.
        dxas[t], dhas[t], dh_direct = gru_pointwise_backward(
            dhs[:, t] + dh, hs[t], gates[t], hns[t]
        )
        dh = dh_direct + dhas[t] @ Wh.T
    # The same weights act at every step: their gradients are sums over t.
    dxas_flat = dxas.reshape(T * N, 3 * H)
    dhas_flat = dhas.reshape(T * N, 3 * H)
    dWx = xs_flat.T @ dxas_flat
    dWh = hs[:-1].reshape(T * N, H).T @ dhas_flat  # step t read hs[t]
    db, db_hn = dxas_flat.sum(axis=0), dhas_flat[:, 2 * H :].sum(axis=0)
    dxs = (dxas_flat @ Wx.T).reshape(T, N, -1).transpose(1, 0, 2)
    return np.ascontiguousarray(dxs), dh, dWx, dWh, db, db_hn


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
    nonlinearities, are kept for plots: :meth:`gate` gives one, ``(N, T, H)``; ``self.gates`` all
    three, ``(N, T, 3H)`` (blocks r, z, n).

    ``fused=True`` (the default) runs :func:`seqlab.fused.time_gru_forward` and ``time_gru_backward``,
    which compute what :func:`time_gru_forward` and :func:`time_gru_backward` compute, faster;
    ``fused=False`` runs those two, the code the chapter shows.
    """

    param_names = ("Wx", "Wh", "b", "b_hn")
    state_names = ("h",)
    gate_names = ("r", "z", "n")
    num_directions = 1

    def __init__(self, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray, b_hn: np.ndarray, stateful: bool = False,
                 fused: bool = True):
        self.params = _checked_gru_weights("TimeGRU", Wx, Wh, b, b_hn)
        self.grads = [np.zeros_like(p) for p in self.params]
        self.stateful = stateful
        self.fused = fused  # run seqlab.fused's twins of time_gru_forward and time_gru_backward
        self.h0 = None  # (N, H) the next call starts from; None means zeros
        self.h = None  # (N, H) last state of the last call
        self.dh = None  # (N, H) gradient with respect to h0, set by backward
        self.cache = None  # (fused or not, the cache of the last forward)
        self._workspace = {}  # the fused twins' arrays, reused from call to call

    @classmethod
    def init(cls, D: int, H: int, rng: np.random.Generator, dtype=np.float32, stateful: bool = False,
             fused: bool = True) -> "TimeGRU":
        """Uniform(-1/sqrt(H), 1/sqrt(H)) parameters, ``nn.GRU``'s default initialization."""
        return cls(*_init_gru_weights(D, H, rng, dtype), stateful=stateful, fused=fused)

    def gate(self, name: str) -> np.ndarray:
        """One gate of the last forward, ``(N, T, H)``: ``"r"``, ``"z"`` or ``"n"`` (a read-only copy)."""
        if name not in self.gate_names:
            raise ValueError(f"a GRU has the gates {self.gate_names}, not {name!r}")
        if self.cache is None:
            raise RuntimeError("TimeGRU has no gates yet: call forward first")
        gates = self.cache[1][2]  # (T, 3, N, H)
        return _read_only(gates[:, self.gate_names.index(name)].transpose(1, 0, 2))

    @property
    def gates(self) -> np.ndarray | None:
        """``(N, T, 3H)``: r, z, n of the last forward, after their nonlinearities (a read-only copy)."""
        if self.cache is None:
            return None
        gates = self.cache[1][2]  # (T, 3, N, H)
        T, _, N, H = gates.shape
        return _read_only(gates.transpose(2, 0, 1, 3).reshape(N, T, NUM_GATES * H))

    def forward(self, xs: np.ndarray) -> np.ndarray:
        Wx, Wh, b, b_hn = self.params
        _check_shape("TimeGRU", "xs", xs, "(N, T, D)", (None, None, self.input_size))
        N = len(xs)
        H = self.hidden_size
        dtype = np.result_type(xs, Wx)
        h0 = np.zeros((N, H), dtype) if self.h0 is None else self.h0
        if h0.shape != (N, H):
            raise ValueError(f"TimeGRU starts from a state of shape {h0.shape} but xs has batch size {N}: "
                             f"call reset_state() when the batch size changes, or set_state(h) with h: (N, H)")
        if self.fused:
            hs, cache = fused.time_gru_forward(xs, Wx, Wh, b, b_hn, h0, workspace=self._workspace)
        else:
            hs, cache = time_gru_forward(xs, Wx, Wh, b, b_hn, h0)
        self.cache = (self.fused, cache)
        self.h = cache[1][-1].copy()
        if self.stateful:
            self.h0 = self.h
        return hs

    def backward(self, dhs: np.ndarray, dh_last: np.ndarray | None = None) -> np.ndarray:
        """Backpropagation through time: ``dhs: (N, T, H) -> dxs: (N, T, D)``.

        dh_last: (N, H), a gradient flowing into the last state from outside the outputs. Sets
        ``self.dh = dL/dh0`` and the parameter gradients, summed over the T steps.
        """
        if self.cache is None:
            raise RuntimeError("TimeGRU.backward needs the cache of a forward pass: call forward first")
        Wx, Wh = self.params[:2]
        was_fused, cache = self.cache
        T, N, H = cache[3].shape
        _check_shape("TimeGRU", "dhs", dhs, "(N, T, H)", (N, T, H))
        if dh_last is not None:
            _check_shape("TimeGRU", "dh_last", dh_last, "(N, H)", (N, H))
        if was_fused:
            dxs, self.dh, *_ = fused.time_gru_backward(dhs, dh_last, cache, Wx, Wh, grads=self.grads,
                                                       workspace=self._workspace)
        else:
            dxs, self.dh, *dparams = time_gru_backward(dhs, dh_last, cache, Wx, Wh)
            for grad, dparam in zip(self.grads, dparams):
                grad[...] = dparam
        return dxs


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
