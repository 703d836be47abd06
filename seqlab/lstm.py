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

The math lives in four functions: :func:`lstm_pointwise_forward` and :func:`lstm_pointwise_backward`
(everything in a step after the matmul), and :func:`lstm_step_forward` and :func:`lstm_step_backward`
(the whole step). :class:`TimeLSTM` runs the pointwise part step by step, but does the matmuls that
do not depend on the recurrence (``xs Wx`` and the weight gradients) once for all T steps.
"""
from __future__ import annotations

import functools

import numpy as np

from seqlab.rnn import Bidirectional, Stacked, _check_shape, _checked_weights, _init_weights

NUM_GATES = 4  # i, f, g, o


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` computed as ``(1 + tanh(x / 2)) / 2``: equal, and never overflows in exp."""
    return 0.5 + 0.5 * np.tanh(0.5 * x)


@functools.cache
def _exp_scale(H: int, dtype: np.dtype) -> np.ndarray:
    """(4H,): -1 over the sigmoid gates i, f, o and -2 over g, so that one exp serves all four
    (see :func:`lstm_pointwise_forward`). Read-only, shared by every call."""
    scale = np.repeat(np.array([-1.0, -1.0, -2.0, -1.0], dtype), H)
    scale.flags.writeable = False
    return scale


def lstm_pointwise_forward(a: np.ndarray, c_prev: np.ndarray):
    """The part of a step after the matmul: gate pre-activations ``a: (N, 4H)`` and ``c_prev: (N, H)``
    -> ``h_next, c_next: (N, H)``, ``gates: (N, 4H)`` (i, f, g, o after their nonlinearities) and
    ``tanh_c: (N, H) = tanh(c_next)``; the last two are what the backward pass needs.

    The four nonlinearities come from one ``exp`` over the block: ``sigmoid(a)`` for i, f, o and
    ``tanh(a) = 2 sigmoid(2a) - 1`` for g, with the column scale of :func:`_exp_scale`.
    """
    H = c_prev.shape[-1]
    # sigmoid(a) = 1 / (1 + exp(-a)) for i, f, o, and tanh(a) = 2 sigmoid(2a) - 1 for g: with a scale
    # per column, all four nonlinearities come from one exp over the whole (N, 4H) block. The
    # transcendental function is most of a step's pointwise cost, and NumPy's exp is about twice
    # as fast as its tanh. exp(-a) overflows to inf for a < -88 (float32), and underflows to 0 for
    # a > 103: 1 / inf = 0 and 1 / (1 + 0) = 1 are then the exact limits, so those warnings are
    # silenced, not the results.
    gates = a * _exp_scale(H, a.dtype)
    with np.errstate(over="ignore", under="ignore"):
        np.exp(gates, out=gates)
    gates += 1
    np.divide(1, gates, out=gates)
    g = gates[:, 2 * H : 3 * H]
    g *= 2
    g -= 1
    i, f, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 3 * H :]
    c_next = f * c_prev
    c_next += i * g
    tanh_c = np.tanh(c_next)
    h_next = o * tanh_c
    return h_next, c_next, gates, tanh_c


def lstm_pointwise_backward(dh_next, dc_next, c_prev, gates, tanh_c):
    """Gradients of :func:`lstm_pointwise_forward`: ``dh_next, dc_next: (N, H)`` -> ``(da: (N, 4H), dc_prev: (N, H))``."""
    H = c_prev.shape[-1]
    i, f, g, o = (gates[:, k * H : (k + 1) * H] for k in range(NUM_GATES))
    # c_next reaches the loss twice: through the next step (dc_next) and through h_next = o * tanh(c_next).
    dc = dc_next + dh_next * o * (1 - tanh_c**2)
    dgates = np.empty_like(gates)  # dL/d[i, f, g, o], with respect to the gates' outputs
    np.multiply(dc, g, out=dgates[:, :H])  # each product written in place: no temporary to copy
    np.multiply(dc, c_prev, out=dgates[:, H : 2 * H])
    np.multiply(dc, i, out=dgates[:, 2 * H : 3 * H])
    np.multiply(dh_next, tanh_c, out=dgates[:, 3 * H :])
    # Back through the nonlinearities to the pre-activations: sigmoid' = s (1 - s) for i, f, o and
    # tanh' = 1 - g^2 for g, both written with the gate's output, which is all the cache keeps.
    slope = 1 - gates
    slope *= gates
    np.multiply(g, g, out=slope[:, 2 * H : 3 * H])
    np.subtract(1, slope[:, 2 * H : 3 * H], out=slope[:, 2 * H : 3 * H])
    dgates *= slope  # dgates becomes da
    return dgates, dc * f


def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    """One LSTM step. x: (N, D), h_prev, c_prev: (N, H) -> h_next, c_next: (N, H), and the cache
    that :func:`lstm_step_backward` needs. Wx: (D, 4H), Wh: (H, 4H), b: (4H,), gates i, f, g, o.
    """
    a = x @ Wx + h_prev @ Wh + b  # (N, 4H): the four gates in one matmul each for x and h
    h_next, c_next, gates, tanh_c = lstm_pointwise_forward(a, c_prev)
    return h_next, c_next, (x, h_prev, c_prev, gates, tanh_c)


def lstm_step_backward(dh_next, dc_next, cache, Wx, Wh):
    """Gradients of one step from ``dh_next, dc_next: (N, H)``: ``(dx, dh_prev, dc_prev, dWx, dWh, db)``."""
    x, h_prev, c_prev, gates, tanh_c = cache
    da, dc_prev = lstm_pointwise_backward(dh_next, dc_next, c_prev, gates, tanh_c)
    return da @ Wx.T, da @ Wh.T, dc_prev, x.T @ da, h_prev.T @ da, da.sum(axis=0)


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

    The gates of the last forward, after their nonlinearities, stay in ``self.gates: (N, T, 4H)``
    (blocks i, f, g, o; :meth:`gate` picks one) for plots of what the LSTM reads and forgets.
    """

    param_names = ("Wx", "Wh", "b")
    state_names = ("h", "c")
    gate_names = ("i", "f", "g", "o")
    num_directions = 1

    def __init__(self, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray, stateful: bool = False):
        self.params = _checked_weights("TimeLSTM", Wx, Wh, b, num_gates=NUM_GATES)
        self.grads = [np.zeros_like(p) for p in self.params]
        self.stateful = stateful
        self.h0 = self.c0 = None  # (N, H) each: the states the next call starts from; None means zeros
        self.h = self.c = None  # (N, H) each: the last states of the last call
        self.dh = self.dc = None  # (N, H) each: gradients with respect to h0 and c0, set by backward
        self.gates = None  # (N, T, 4H): i, f, g, o of the last forward, after their nonlinearities
        self.cache = None

    @classmethod
    def init(cls, D: int, H: int, rng: np.random.Generator, dtype=np.float32, stateful: bool = False) -> "TimeLSTM":
        """Uniform(-1/sqrt(H), 1/sqrt(H)) weights and bias, ``nn.LSTM``'s default initialization."""
        return cls(*_init_weights(D, H, rng, dtype, num_gates=NUM_GATES), stateful=stateful)

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
        if self.gates is None:
            raise RuntimeError("TimeLSTM has no gates yet: call forward first")
        H, k = self.hidden_size, self.gate_names.index(name)
        return self.gates[..., k * H : (k + 1) * H]

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
        N, T, D = xs.shape
        H = self.hidden_size
        dtype = np.result_type(xs, Wx)
        h0 = np.zeros((N, H), dtype) if self.h0 is None else self.h0
        c0 = np.zeros((N, H), dtype) if self.c0 is None else self.c0
        if h0.shape != (N, H):
            raise ValueError(f"TimeLSTM starts from a state of shape {h0.shape} but xs has batch size {N}: "
                             f"call reset_state() when the batch size changes, or set_state(h, c) with h, c: (N, H)")
        # Inside, arrays are time-major, (T, N, .), so that step t's slice is one contiguous block.
        xs_flat = xs.transpose(1, 0, 2).reshape(T * N, D)  # (T*N, D), a copy
        # x_t Wx does not depend on the recurrence: one (T*N, D) @ (D, 4H) matmul for every step
        # leaves only h_prev @ Wh inside the loop.
        xs_Wx_b = (xs_flat @ Wx).reshape(T, N, 4 * H)
        xs_Wx_b += b
        hs = np.empty((T + 1, N, H), dtype)  # hs[t + 1] = h_t, and hs[0] = h0: step t reads hs[t]
        cs = np.empty((T + 1, N, H), dtype)  # likewise for c
        tanh_cs = np.empty((T, N, H), dtype)
        gates = np.empty((T, N, 4 * H), dtype)
        hs[0], cs[0] = h0, c0
        for t in range(T):
            a = hs[t] @ Wh
            a += xs_Wx_b[t]
            hs[t + 1], cs[t + 1], gates[t], tanh_cs[t] = lstm_pointwise_forward(a, cs[t])
        self.cache = (xs_flat, hs, cs, tanh_cs, gates)
        self.gates = gates.transpose(1, 0, 2)  # (N, T, 4H), a view of the cache: kept read-only
        self.gates.flags.writeable = False
        self.h, self.c = hs[T].copy(), cs[T].copy()
        if self.stateful:
            self.h0, self.c0 = self.h, self.c
        return np.ascontiguousarray(hs[1:].transpose(1, 0, 2))  # (N, T, H)

    def backward(self, dhs: np.ndarray, dh_last: np.ndarray | None = None, dc_last: np.ndarray | None = None) -> np.ndarray:
        """Backpropagation through time: ``dhs: (N, T, H) -> dxs: (N, T, D)``.

        dh_last, dc_last: (N, H), gradients flowing into the last states ``h``, ``c`` from outside
        the outputs (an encoder's states read by a decoder). Sets ``self.dh = dL/dh0``,
        ``self.dc = dL/dc0`` and the weight gradients, summed over the T steps.
        """
        if self.cache is None:
            raise RuntimeError("TimeLSTM.backward needs the cache of a forward pass: call forward first")
        Wx, Wh, _ = self.params
        xs_flat, hs, cs, tanh_cs, gates = self.cache
        T, N, H = tanh_cs.shape
        _check_shape("TimeLSTM", "dhs", dhs, "(N, T, H)", (N, T, H))
        for name, d_last in (("dh_last", dh_last), ("dc_last", dc_last)):
            if d_last is not None:
                _check_shape("TimeLSTM", name, d_last, "(N, H)", (N, H))
        dtype = np.result_type(dhs, Wx)
        dh = np.zeros((N, H), dtype) if dh_last is None else dh_last
        dc = np.zeros((N, H), dtype) if dc_last is None else dc_last
        das = np.empty((T, N, 4 * H), dtype)  # dL/da_t for every step, for the matmuls after the loop
        for t in reversed(range(T)):
            # h_t feeds both the output (dhs[:, t]) and the next step (dh): the gradients add.
            da, dc = lstm_pointwise_backward(dhs[:, t] + dh, dc, cs[t], gates[t], tanh_cs[t])
            das[t] = da
            dh = da @ Wh.T
        self.dh, self.dc = dh, dc
        # The same weights act at every step, so their gradients are sums over t: one matmul each.
        das_flat = das.reshape(T * N, 4 * H)
        self.grads[0][...] = xs_flat.T @ das_flat
        self.grads[1][...] = hs[:-1].reshape(T * N, H).T @ das_flat  # step t read h_{t-1} = hs[t]
        self.grads[2][...] = das_flat.sum(axis=0)
        dxs = (das_flat @ Wx.T).reshape(T, N, -1)
        return np.ascontiguousarray(dxs.transpose(1, 0, 2))  # (N, T, D)


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
