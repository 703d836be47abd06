"""The LSTM: one step, the step unrolled over time, and stacks and pairs of those.

Taught in: book/04_lstm.md

A step reads ``x: (N, D)`` and the two states ``h_prev, c_prev: (N, H)``. One fused matmul gives
the pre-activations of the four gates, ``a = x Wx + h_prev Wh + b: (N, 4H)``, in **PyTorch's
order i, f, g, o** (blocks of H columns):

    i = sigmoid(a_i)   input gate: how much of the candidate to write
    f = sigmoid(a_f)   forget gate: how much of the old cell to keep
    g = tanh(a_g)      the candidate values
    o = sigmoid(a_o)   output gate: how much of the cell to show
    c_next = f * c_prev + i * g
    h_next = o * tanh(c_next)

Weights: ``Wx: (D, 4H)``, ``Wh: (H, 4H)``, ``b: (4H,)``. ``torch.nn.LSTM`` stores the transposes
(``weight_ih_l0 = Wx.T``) and two biases; :mod:`seqlab.convert` moves weights between the two,
and also from the gate order f, g, i, o of "Deep Learning from Scratch 2".

The math lives in the functions below, written as the equations above: :func:`lstm_pointwise_forward`
and :func:`lstm_pointwise_backward` (everything in a step after the matmul), :func:`lstm_step_forward`
and :func:`lstm_step_backward` (the whole step), and :func:`time_lstm_forward` and
:func:`time_lstm_backward` (the step unrolled over T steps, doing the matmuls that do not depend on
the recurrence, ``xs Wx`` and the weight gradients, once for all T steps). :class:`TimeLSTM` runs the
last two, or by default their twins in :mod:`seqlab.fused`: the same math with fewer NumPy
operations, faster, and tested equal.
"""
from __future__ import annotations

import numpy as np

from seqlab import fused
from seqlab.rnn import Bidirectional, Stacked, _check_shape, _checked_weights, _init_weights

NUM_GATES = 4  # i, f, g, o


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), computed as (1 + tanh(x / 2)) / 2: the same
    function, and no exp(-x) to overflow for large negative x."""
    return 0.5 + 0.5 * np.tanh(0.5 * x)


def lstm_pointwise_forward(a: np.ndarray, c_prev: np.ndarray):
    """A step after its matmul: a: (N, 4H), the pre-activations of the
    gates i, f, g, o, and c_prev: (N, H) -> h_next, c_next: (N, H), the
    gates (i, f, g, o), each (N, H), and tanh_c = tanh(c_next)."""
    H = c_prev.shape[-1]
    i = sigmoid(a[:, :H])  # input gate
    f = sigmoid(a[:, H : 2 * H])  # forget gate
    g = np.tanh(a[:, 2 * H : 3 * H])  # candidate
    o = sigmoid(a[:, 3 * H :])  # output gate
    c_next = f * c_prev + i * g
    tanh_c = np.tanh(c_next)
    h_next = o * tanh_c
    return h_next, c_next, (i, f, g, o), tanh_c


def lstm_pointwise_backward(dh_next, dc_next, c_prev, gates, tanh_c):
    """Gradients of lstm_pointwise_forward from dh_next, dc_next: (N, H):
    (da: (N, 4H), dc_prev: (N, H))."""
    i, f, g, o = gates
    # c_next reaches the loss twice: through the next step (dc_next) and
    # through h_next = o * tanh(c_next).
    dc = dc_next + dh_next * o * (1 - tanh_c**2)
    # Each gate is one factor of a product: its gradient is the other one.
    di, df, dg, do = dc * g, dc * c_prev, dc * i, dh_next * tanh_c
    # Back through the nonlinearities, written with their outputs:
    # sigmoid'(a) = s (1 - s) and tanh'(a) = 1 - tanh(a)^2.
    da_i, da_f = di * i * (1 - i), df * f * (1 - f)
    da_g, da_o = dg * (1 - g**2), do * o * (1 - o)
    da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)  # (N, 4H)
    return da, dc * f


def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    """One LSTM step: x: (N, D), h_prev, c_prev: (N, H) -> h_next, c_next:
    (N, H) and the cache for lstm_step_backward. Wx: (D, 4H), Wh: (H, 4H),
    b: (4H,), gate blocks i, f, g, o."""
    a = x @ Wx + h_prev @ Wh + b  # (N, 4H): one matmul for the four gates
    h_next, c_next, gates, tanh_c = lstm_pointwise_forward(a, c_prev)
    return h_next, c_next, (x, h_prev, c_prev, gates, tanh_c)


def lstm_step_backward(dh_next, dc_next, cache, Wx, Wh):
    """Gradients of one step from dh_next, dc_next: (N, H):
    (dx, dh_prev, dc_prev, dWx, dWh, db)."""
    x, h_prev, c_prev, gates, tanh_c = cache
    da, dc_prev = lstm_pointwise_backward(
        dh_next, dc_next, c_prev, gates, tanh_c
    )
    dx, dh_prev = da @ Wx.T, da @ Wh.T
    dWx, dWh, db = x.T @ da, h_prev.T @ da, da.sum(axis=0)
    return dx, dh_prev, dc_prev, dWx, dWh, db


def time_lstm_forward(xs, Wx, Wh, b, h0, c0):
    """The step over a sequence: xs: (N, T, D) and the first states
    h0, c0: (N, H) -> hs: (N, T, H), and the cache for the backward pass:
    hs and cs, (T + 1, N, H), with hs[0] = h0 and hs[t + 1] = h_t; the
    gates, (T, 4, N, H): i, f, g, o of every step; tanh_cs, (T, N, H)."""
    N, T, D = xs.shape
    H = Wh.shape[0]
    dtype = np.result_type(xs, Wx)
    # Time-major inside, (T, N, .): step t's slice is one contiguous block.
    xs_flat = xs.transpose(1, 0, 2).reshape(T * N, D)  # a copy
    # x_t Wx does not depend on the recurrence: one matmul for all T steps
    # leaves only h_prev @ Wh inside the loop.
    xs_Wx_b = (xs_flat @ Wx + b).reshape(T, N, 4 * H)
    hs = np.empty((T + 1, N, H), dtype)  # step t reads hs[t], writes hs[t+1]
    cs = np.empty((T + 1, N, H), dtype)  # likewise for c
    gates = np.empty((T, NUM_GATES, N, H), dtype)
    tanh_cs = np.empty((T, N, H), dtype)
    hs[0], cs[0] = h0, c0
    for t in range(T):
        a = hs[t] @ Wh + xs_Wx_b[t]
        h, c, gates[t], tanh_cs[t] = lstm_pointwise_forward(a, cs[t])
        hs[t + 1], cs[t + 1] = h, c
    hs_out = hs[1:].transpose(1, 0, 2)  # (N, T, H)
    return np.ascontiguousarray(hs_out), (xs_flat, hs, cs, gates, tanh_cs)


def time_lstm_backward(dhs, dh_last, dc_last, cache, Wx, Wh):
    """Backpropagation through time: dhs: (N, T, H), and dh_last, dc_last:
    (N, H) or None, gradients flowing into the last states from outside
    the outputs -> (dxs: (N, T, D), dh0, dc0: (N, H), dWx, dWh, db), the
    weight gradients summed over the T steps."""
    xs_flat, hs, cs, gates, tanh_cs = cache
    T, N, H = tanh_cs.shape
    dtype = np.result_type(dhs, Wx)
    dh = np.zeros((N, H), dtype) if dh_last is None else dh_last
    dc = np.zeros((N, H), dtype) if dc_last is None else dc_last
    das = np.empty((T, N, 4 * H), dtype)  # dL/da_t of every step
    for t in reversed(range(T)):
        # h_t feeds the output (dhs[:, t]) and the next step (dh): they add.
        das[t], dc = lstm_pointwise_backward(
            dhs[:, t] + dh, dc, cs[t], gates[t], tanh_cs[t]
        )
        dh = das[t] @ Wh.T
    # The same weights act at every step: their gradients are sums over t,
    # one matmul each.
    das_flat = das.reshape(T * N, 4 * H)
    dWx = xs_flat.T @ das_flat
    dWh = hs[:-1].reshape(T * N, H).T @ das_flat  # step t read hs[t]
    db = das_flat.sum(axis=0)
    dxs = (das_flat @ Wx.T).reshape(T, N, -1).transpose(1, 0, 2)
    return np.ascontiguousarray(dxs), dh, dc, dWx, dWh, db


def _read_only(array: np.ndarray) -> np.ndarray:
    """A read-only copy: what a plot reads of the last forward, apart from the arrays backward reuses."""
    copy = np.array(array)
    copy.flags.writeable = False
    return copy


class LSTM:
    """One LSTM step as a layer: ``forward(x, h_prev, c_prev) -> (h_next, c_next)``; ``nn.LSTMCell``'s job.

    Taught in: book/04_lstm.md

    x: (N, D); h_prev, c_prev, h_next, c_next: (N, H). ``backward(dh_next, dc_next)`` returns
    ``(dx, dh_prev, dc_prev)``; pass ``dc_next=None`` when only ``h_next`` is used.
    Weights ``Wx: (D, 4H)``, ``Wh: (H, 4H)``, ``b: (4H,)``, gates in PyTorch's order i, f, g, o.
    """

    param_names = ("Wx", "Wh", "b")

    def __init__(self, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray):
        self.params = _checked_weights("LSTM", Wx, Wh, b, num_gates=NUM_GATES)
        self.grads = [np.zeros_like(p) for p in self.params]
        self.cache = None

    @classmethod
    def init(cls, D: int, H: int, rng: np.random.Generator, dtype=np.float32) -> "LSTM":
        """Uniform(-1/sqrt(H), 1/sqrt(H)) weights and bias, ``nn.LSTMCell``'s default initialization."""
        return cls(*_init_weights(D, H, rng, dtype, num_gates=NUM_GATES))

    @property
    def hidden_size(self) -> int:
        return self.params[1].shape[0]

    def forward(self, x: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Wx, Wh, b = self.params
        _check_shape("LSTM", "x", x, "(N, D)", (None, Wx.shape[0]))
        _check_shape("LSTM", "h_prev", h_prev, "(N, H)", (len(x), self.hidden_size))
        _check_shape("LSTM", "c_prev", c_prev, "(N, H)", (len(x), self.hidden_size))
        h_next, c_next, self.cache = lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
        return h_next, c_next

    def backward(self, dh_next: np.ndarray, dc_next: np.ndarray | None = None):
        if self.cache is None:
            raise RuntimeError("LSTM.backward needs the cache of a forward pass: call forward first")
        Wx, Wh, _ = self.params
        if dc_next is None:
            dc_next = np.zeros_like(dh_next)
        dx, dh_prev, dc_prev, *dparams = lstm_step_backward(dh_next, dc_next, self.cache, Wx, Wh)
        for grad, dparam in zip(self.grads, dparams):
            grad[...] = dparam
        return dx, dh_prev, dc_prev


class TimeLSTM:
    """An LSTM unrolled over time: ``xs: (N, T, D) -> hs: (N, T, H)``; ``nn.LSTM`` with one layer.

    Taught in: book/04_lstm.md

    State. The first step starts from ``(h0, c0)``: zeros, or the ``(N, H)`` arrays given to
    ``set_state(h, c)``. A stateful layer then moves them to its last states after every call, so
    that calls on consecutive blocks of the same N sequences read them as one (truncated BPTT: the
    gradient stops at the block boundary, and what reaches it is ``self.dh``, ``self.dc``);
    ``reset_state()`` returns to zeros. ``final_hidden_states()`` gives ``(h_n, c_n)``, each (1, N, H).

    The gates of the last forward, after their nonlinearities, are kept for plots of what the LSTM
    reads and forgets: :meth:`gate` gives one, ``(N, T, H)``; ``self.gates`` all four, ``(N, T, 4H)``.

    ``fused=True`` (the default) runs :func:`seqlab.fused.time_lstm_forward` and ``time_lstm_backward``,
    which compute what :func:`time_lstm_forward` and :func:`time_lstm_backward` compute, faster;
    ``fused=False`` runs those two, the code the chapter shows.
    """

    param_names = ("Wx", "Wh", "b")
    state_names = ("h", "c")
    gate_names = ("i", "f", "g", "o")
    num_directions = 1

    def __init__(self, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray, stateful: bool = False, fused: bool = True):
        self.params = _checked_weights("TimeLSTM", Wx, Wh, b, num_gates=NUM_GATES)
        self.grads = [np.zeros_like(p) for p in self.params]
        self.stateful = stateful
        self.fused = fused  # run seqlab.fused's twins of time_lstm_forward and time_lstm_backward
        self.h0 = self.c0 = None  # (N, H) each: the states the next call starts from; None means zeros
        self.h = self.c = None  # (N, H) each: the last states of the last call
        self.dh = self.dc = None  # (N, H) each: gradients with respect to h0 and c0, set by backward
        self.cache = None  # (fused or not, the cache of the last forward)
        self._workspace = {}  # the fused twins' arrays, reused from call to call

    @classmethod
    def init(cls, D: int, H: int, rng: np.random.Generator, dtype=np.float32, stateful: bool = False,
             fused: bool = True) -> "TimeLSTM":
        """Uniform(-1/sqrt(H), 1/sqrt(H)) weights and bias, ``nn.LSTM``'s default initialization."""
        return cls(*_init_weights(D, H, rng, dtype, num_gates=NUM_GATES), stateful=stateful, fused=fused)

    @property
    def input_size(self) -> int:
        return self.params[0].shape[0]

    @property
    def hidden_size(self) -> int:
        return self.params[1].shape[0]

    output_size = hidden_size  # one direction: the outputs are the hidden states

    def gate(self, name: str) -> np.ndarray:
        """One gate of the last forward, ``(N, T, H)``: ``"i"``, ``"f"``, ``"g"`` or ``"o"``."""
        if name not in self.gate_names:
            raise ValueError(f"an LSTM has the gates {self.gate_names}, not {name!r}")
        if self.cache is None:
            raise RuntimeError("TimeLSTM has no gates yet: call forward first")
        gates = self.cache[1][3]  # (T, 4, N, H)
        return _read_only(gates[:, self.gate_names.index(name)].transpose(1, 0, 2))

    @property
    def gates(self) -> np.ndarray | None:
        """``(N, T, 4H)``: i, f, g, o of the last forward, after their nonlinearities (a copy)."""
        if self.cache is None:
            return None
        gates = self.cache[1][3]  # (T, 4, N, H)
        T, _, N, H = gates.shape
        return _read_only(gates.transpose(2, 0, 1, 3).reshape(N, T, NUM_GATES * H))

    def set_state(self, h: np.ndarray, c: np.ndarray) -> None:
        """Start the next call (every call, unless stateful) from ``h, c: (N, H)``."""
        _check_shape("TimeLSTM", "the state h", h, "(N, H)", (None, self.hidden_size))
        _check_shape("TimeLSTM", "the state c", c, "(N, H)", (len(h), self.hidden_size))
        self.h0, self.c0 = h, c

    def reset_state(self) -> None:
        self.h0 = self.c0 = self.h = self.c = None

    def final_hidden_states(self) -> tuple[np.ndarray, np.ndarray]:
        """``(h_n, c_n)``, each (1, N, H): the second output of ``nn.LSTM``."""
        if self.h is None:
            raise RuntimeError("TimeLSTM has no final states yet: call forward first")
        return self.h[None], self.c[None]

    def final_states(self) -> tuple[np.ndarray, np.ndarray]:
        """``(h_n, c_n)``, each (1, N, H): the form every time layer shares, for the wrappers."""
        return self.final_hidden_states()

    def initial_state_grads(self) -> tuple[np.ndarray, np.ndarray]:
        """``(dh0, dc0)``, each (1, N, H), from the last ``backward``."""
        if self.dh is None:
            raise RuntimeError("TimeLSTM has no initial-state gradients yet: call backward first")
        return self.dh[None], self.dc[None]

    def forward(self, xs: np.ndarray) -> np.ndarray:
        Wx, Wh, b = self.params
        _check_shape("TimeLSTM", "xs", xs, "(N, T, D)", (None, None, self.input_size))
        N = len(xs)
        H = self.hidden_size
        dtype = np.result_type(xs, Wx)
        h0 = np.zeros((N, H), dtype) if self.h0 is None else self.h0
        c0 = np.zeros((N, H), dtype) if self.c0 is None else self.c0
        if h0.shape != (N, H):
            raise ValueError(f"TimeLSTM starts from a state of shape {h0.shape} but xs has batch size {N}: "
                             f"call reset_state() when the batch size changes, or set_state(h, c) with h, c: (N, H)")
        if self.fused:
            hs, cache = fused.time_lstm_forward(xs, Wx, Wh, b, h0, c0, workspace=self._workspace)
        else:
            hs, cache = time_lstm_forward(xs, Wx, Wh, b, h0, c0)
        self.cache = (self.fused, cache)
        _, hs_all, cs, _, _ = cache
        self.h, self.c = hs_all[-1].copy(), cs[-1].copy()
        if self.stateful:
            self.h0, self.c0 = self.h, self.c
        return hs

    def backward(self, dhs: np.ndarray, dh_last: np.ndarray | None = None, dc_last: np.ndarray | None = None) -> np.ndarray:
        """Backpropagation through time: ``dhs: (N, T, H) -> dxs: (N, T, D)``.

        dh_last, dc_last: (N, H), gradients flowing into the last states ``h``, ``c`` from outside
        the outputs (an encoder's states read by a decoder). Sets ``self.dh = dL/dh0``,
        ``self.dc = dL/dc0`` and the weight gradients, summed over the T steps.
        """
        if self.cache is None:
            raise RuntimeError("TimeLSTM.backward needs the cache of a forward pass: call forward first")
        Wx, Wh, _ = self.params
        was_fused, cache = self.cache
        T, N, H = cache[4].shape
        _check_shape("TimeLSTM", "dhs", dhs, "(N, T, H)", (N, T, H))
        for name, d_last in (("dh_last", dh_last), ("dc_last", dc_last)):
            if d_last is not None:
                _check_shape("TimeLSTM", name, d_last, "(N, H)", (N, H))
        if was_fused:
            dxs, self.dh, self.dc, *_ = fused.time_lstm_backward(dhs, dh_last, dc_last, cache, Wx, Wh,
                                                                 grads=self.grads, workspace=self._workspace)
        else:
            dxs, self.dh, self.dc, *dparams = time_lstm_backward(dhs, dh_last, dc_last, cache, Wx, Wh)
            for grad, dparam in zip(self.grads, dparams):
                grad[...] = dparam
        return dxs


class BidirectionalLSTM(Bidirectional):
    """Two TimeLSTMs, one per direction: ``nn.LSTM(bidirectional=True)``. See :class:`seqlab.rnn.Bidirectional`.

    Taught in: book/04_lstm.md

    ``set_state(h0, c0)``, ``final_hidden_states() -> (h_n, c_n)``, ``backward(dhs, dh_last, dc_last)``,
    ``self.dh`` and ``self.dc``: every state is (2, N, H), forward direction first.
    """

    time_layer = TimeLSTM


class StackedLSTM(Stacked):
    """TimeLSTMs (or BidirectionalLSTMs) on top of each other: ``nn.LSTM(num_layers=L)``. See :class:`seqlab.rnn.Stacked`.

    Taught in: book/04_lstm.md

    ``set_state(h0, c0)``, ``final_hidden_states() -> (h_n, c_n)``, ``backward(dhs, dh_last, dc_last)``,
    ``self.dh`` and ``self.dc``: every state is (S, N, H), S = L * num_directions, as in ``nn.LSTM``.
    """

    time_layer = TimeLSTM
    bidirectional_layer = BidirectionalLSTM
