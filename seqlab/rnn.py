"""Recurrent layers: one tanh RNN step, the step unrolled over time, and stacks and pairs of those.

Taught in: book/02_rnn.md

The math of a step, ``h_t = tanh(h_{t-1} Wh + x_t Wx + b)``, lives in :func:`rnn_step_forward`
and :func:`rnn_step_backward` only; the classes below call them and hold no arithmetic of their own.
Weights: ``Wx: (D, H)``, ``Wh: (H, H)``, ``b: (H,)``. ``torch.nn.RNN`` stores the transposes and
two biases; :mod:`seqlab.convert` moves weights between the two.

State layouts: a :class:`TimeRNN` has one state, ``h: (N, H)``. :class:`BidirectionalRNN` and
:class:`StackedRNN` hold several and use PyTorch's ``h_n`` layout ``(S, N, H)`` with
``S = num_layers * num_directions``, for ``set_state``, ``final_hidden_states()``, ``dh`` and the
``dh_last`` argument of ``backward``.
"""
from __future__ import annotations

import numpy as np


def rnn_step_forward(x, h_prev, Wx, Wh, b):
    """One step ``h_next = tanh(h_prev Wh + x Wx + b)``.

    x: (N, D), h_prev: (N, H) -> h_next: (N, H), and the cache that :func:`rnn_step_backward` needs.
    """
    h_next = np.tanh(h_prev @ Wh + x @ Wx + b)
    return h_next, (x, h_prev, h_next)


def rnn_step_backward(dh_next, cache, Wx, Wh):
    """Gradients of one step from ``dh_next = dL/dh_next: (N, H)``: ``(dx, dh_prev, dWx, dWh, db)``."""
    x, h_prev, h_next = cache
    da = dh_next * (1 - h_next**2)  # tanh'(a) = 1 - tanh(a)^2: the step's output is all we need
    return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, da.sum(axis=0)


def _check_shape(owner: str, name: str, array, layout: str, expected: tuple) -> None:
    """Raise a ValueError that names the expected layout; ``None`` in ``expected`` matches any size."""
    shape = np.shape(array)
    if len(shape) != len(expected) or any(e is not None and e != n for e, n in zip(expected, shape)):
        letters = layout.strip("()").split(", ")
        sizes = ", ".join(letter if e is None else str(e) for letter, e in zip(letters, expected))
        raise ValueError(f"{owner} expects {name} of shape {layout} = ({sizes}), got {shape}")


def _checked_weights(owner: str, Wx, Wh, b) -> list[np.ndarray]:
    _check_shape(owner, "Wx", Wx, "(D, H)", (None, None))
    H = Wx.shape[1]
    _check_shape(owner, "Wh", Wh, "(H, H)", (H, H))
    _check_shape(owner, "b", b, "(H,)", (H,))
    return [Wx, Wh, b]


def _init_weights(D: int, H: int, rng: np.random.Generator, dtype) -> list[np.ndarray]:
    """Uniform(-1/sqrt(H), 1/sqrt(H)), ``nn.RNN``'s default.

    PyTorch draws its two biases that way; their sum, our ``b``, would be triangular on twice the range.
    """
    bound = 1 / np.sqrt(H)
    return [rng.uniform(-bound, bound, size=shape).astype(dtype) for shape in [(D, H), (H, H), (H,)]]


class RNN:
    """One step of a tanh RNN as a layer: ``forward(x, h_prev) -> h_next``; ``nn.RNNCell``'s job.

    Taught in: book/02_rnn.md

    x: (N, D), h_prev and h_next: (N, H). ``backward(dh_next)`` returns ``(dx, dh_prev)``.
    """

    param_names = ("Wx", "Wh", "b")

    def __init__(self, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray):
        self.params = _checked_weights("RNN", Wx, Wh, b)
        self.grads = [np.zeros_like(p) for p in self.params]
        self.cache = None

    @classmethod
    def init(cls, D: int, H: int, rng: np.random.Generator, dtype=np.float32) -> "RNN":
        """Uniform(-1/sqrt(H), 1/sqrt(H)) weights and bias, PyTorch's default initialization."""
        return cls(*_init_weights(D, H, rng, dtype))

    def forward(self, x: np.ndarray, h_prev: np.ndarray) -> np.ndarray:
        Wx, Wh, b = self.params
        _check_shape("RNN", "x", x, "(N, D)", (None, Wx.shape[0]))
        _check_shape("RNN", "h_prev", h_prev, "(N, H)", (len(x), Wh.shape[0]))
        h_next, self.cache = rnn_step_forward(x, h_prev, Wx, Wh, b)
        return h_next

    def backward(self, dh_next: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Wx, Wh, _ = self.params
        dx, dh_prev, *dparams = rnn_step_backward(dh_next, self.cache, Wx, Wh)
        for grad, dparam in zip(self.grads, dparams):
            grad[...] = dparam
        return dx, dh_prev


class TimeRNN:
    """A tanh RNN unrolled over time: ``xs: (N, T, D) -> hs: (N, T, H)``; ``nn.RNN`` with one layer.

    Taught in: book/02_rnn.md

    State. The first step starts from ``h0``: zeros, or the ``h: (N, H)`` given to ``set_state(h)``.
    A stateful layer then moves ``h0`` to its last state after every call, so that calls on
    consecutive blocks of the same N sequences read them as one; ``reset_state()`` returns to zeros.
    The last state of the last call is ``self.h``, ``final_hidden_states()`` gives it as ``h_n``.

    Truncated BPTT comes for free: the forward state carries across blocks, but ``backward`` only
    has this block's caches, so the gradient stops at the block boundary. What reaches the boundary,
    ``dL/dh0: (N, H)``, is kept in ``self.dh`` (an encoder hands it on; a language model drops it).
    """

    param_names = ("Wx", "Wh", "b")
    num_directions = 1

    def __init__(self, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray, stateful: bool = False):
        self.params = _checked_weights("TimeRNN", Wx, Wh, b)
        self.grads = [np.zeros_like(p) for p in self.params]
        self.stateful = stateful
        self.h0 = None  # (N, H) the next call starts from; None means zeros
        self.h = None  # (N, H) last state of the last call
        self.dh = None  # (N, H) gradient with respect to h0, set by backward
        self.caches = []

    @classmethod
    def init(cls, D: int, H: int, rng: np.random.Generator, dtype=np.float32, stateful: bool = False) -> "TimeRNN":
        """Uniform(-1/sqrt(H), 1/sqrt(H)) weights and bias, PyTorch's default initialization."""
        return cls(*_init_weights(D, H, rng, dtype), stateful=stateful)

    @property
    def input_size(self) -> int:
        return self.params[0].shape[0]

    @property
    def hidden_size(self) -> int:
        return self.params[1].shape[0]

    output_size = hidden_size  # one direction: the outputs are the hidden states

    def set_state(self, h: np.ndarray) -> None:
        """Start the next call (every call, unless stateful) from ``h: (N, H)``."""
        _check_shape("TimeRNN", "the state h", h, "(N, H)", (None, self.hidden_size))
        self.h0 = h

    def reset_state(self) -> None:
        self.h0 = self.h = None

    def final_hidden_states(self) -> np.ndarray:
        """The last state of the last call in ``nn.RNN``'s ``h_n`` layout, (1, N, H)."""
        if self.h is None:
            raise RuntimeError("TimeRNN has no final hidden state yet: call forward first")
        return self.h[None]

    def forward(self, xs: np.ndarray) -> np.ndarray:
        Wx, Wh, b = self.params
        _check_shape("TimeRNN", "xs", xs, "(N, T, D)", (None, None, self.input_size))
        N, T, _ = xs.shape
        H = self.hidden_size
        dtype = np.result_type(xs, Wx)
        h = np.zeros((N, H), dtype) if self.h0 is None else self.h0
        if h.shape != (N, H):
            raise ValueError(f"TimeRNN starts from a state of shape {h.shape} but xs has batch size {N}: "
                             f"call reset_state() when the batch size changes, or set_state(h) with h: (N, H)")
        hs = np.empty((N, T, H), dtype)
        self.caches = []
        for t in range(T):
            h, cache = rnn_step_forward(xs[:, t], h, Wx, Wh, b)
            hs[:, t] = h
            self.caches.append(cache)
        self.h = h
        if self.stateful:
            self.h0 = h
        return hs

    def backward(self, dhs: np.ndarray, dh_last: np.ndarray | None = None) -> np.ndarray:
        """Backpropagation through time: ``dhs: (N, T, H) -> dxs: (N, T, D)``.

        dh_last: (N, H), a gradient flowing into the last state ``h`` from outside the outputs
        (an encoder's state read by a decoder). Sets ``self.dh = dL/dh0`` and the weight gradients,
        summed over the T steps.
        """
        Wx, Wh, _ = self.params
        T, H = len(self.caches), self.hidden_size
        _check_shape("TimeRNN", "dhs", dhs, "(N, T, H)", (None, T, H))
        N = dhs.shape[0]
        dxs = np.empty((N, T, self.input_size), np.result_type(dhs, Wx))
        dh = np.zeros((N, H), dhs.dtype) if dh_last is None else dh_last
        for grad in self.grads:
            grad[...] = 0
        for t in reversed(range(T)):
            # h_t feeds both the output (dhs[:, t]) and the next step (dh): the gradients add.
            dx, dh, *dparams = rnn_step_backward(dhs[:, t] + dh, self.caches[t], Wx, Wh)
            dxs[:, t] = dx
            for grad, dparam in zip(self.grads, dparams):
                grad += dparam  # the same weights act at every step
        self.dh = dh
        return dxs


class BidirectionalRNN:
    """Two TimeRNNs, one reading left to right and one right to left: ``(N, T, D) -> (N, T, 2H)``.

    Taught in: book/02_rnn.md

    Output t is ``[forward h_t, backward h_t]``, forward half first, as in ``nn.RNN(bidirectional=True)``.
    States use the ``h_n`` layout ``(2, N, H)``: index 0 forward, 1 backward. The backward
    direction's last state is the one at t = 0: it has read the whole sequence when it gets there.
    """

    num_directions = 2

    def __init__(self, forward_layer: TimeRNN, backward_layer: TimeRNN):
        if forward_layer.stateful or backward_layer.stateful:
            raise ValueError("BidirectionalRNN reads each sequence whole in both directions: its layers cannot be stateful")
        sizes = [(layer.input_size, layer.hidden_size) for layer in (forward_layer, backward_layer)]
        if sizes[0] != sizes[1]:
            raise ValueError(f"both directions need the same (D, H), got {sizes[0]} forward and {sizes[1]} backward")
        self.forward_layer, self.backward_layer = forward_layer, backward_layer
        self.params = forward_layer.params + backward_layer.params
        self.grads = forward_layer.grads + backward_layer.grads
        self.param_names = tuple(f"{direction}.{name}" for direction in ("fwd", "bwd") for name in TimeRNN.param_names)
        self.dh = None  # (2, N, H) gradient with respect to the initial states

    @classmethod
    def init(cls, D: int, H: int, rng: np.random.Generator, dtype=np.float32) -> "BidirectionalRNN":
        return cls(TimeRNN.init(D, H, rng, dtype), TimeRNN.init(D, H, rng, dtype))

    @property
    def input_size(self) -> int:
        return self.forward_layer.input_size

    @property
    def hidden_size(self) -> int:
        return self.forward_layer.hidden_size

    @property
    def output_size(self) -> int:
        return 2 * self.hidden_size

    def set_state(self, h0: np.ndarray) -> None:
        """Start both directions from ``h0: (2, N, H)``."""
        _check_shape("BidirectionalRNN", "the state h0", h0, "(2, N, H)", (2, None, self.hidden_size))
        self.forward_layer.set_state(h0[0])
        self.backward_layer.set_state(h0[1])

    def reset_state(self) -> None:
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def final_hidden_states(self) -> np.ndarray:
        """(2, N, H), ``h_n`` of ``nn.RNN(bidirectional=True)``."""
        return np.stack([self.forward_layer.h, self.backward_layer.h])

    def forward(self, xs: np.ndarray) -> np.ndarray:
        hs_forward = self.forward_layer.forward(xs)
        # Reversing time makes the backward direction an ordinary RNN; reversing its output back
        # lines both halves up on the same step t.
        hs_backward = self.backward_layer.forward(xs[:, ::-1])[:, ::-1]
        return np.concatenate([hs_forward, hs_backward], axis=-1)  # (N, T, 2H)

    def backward(self, dhs: np.ndarray, dh_last: np.ndarray | None = None) -> np.ndarray:
        """``dhs: (N, T, 2H) -> dxs: (N, T, D)``; dh_last: (2, N, H), the gradient of ``h_n``."""
        H = self.hidden_size
        _check_shape("BidirectionalRNN", "dhs", dhs, "(N, T, 2H)", (None, None, 2 * H))
        dh_forward, dh_backward = (None, None) if dh_last is None else dh_last
        dxs_forward = self.forward_layer.backward(dhs[..., :H], dh_forward)
        dxs_backward = self.backward_layer.backward(dhs[:, ::-1, H:], dh_backward)[:, ::-1]
        self.dh = np.stack([self.forward_layer.dh, self.backward_layer.dh])
        return dxs_forward + dxs_backward  # both directions read the same xs


class StackedRNN:
    """Recurrent layers on top of each other, layer k reading layer k-1's outputs; ``nn.RNN(num_layers=L)``.

    Taught in: book/02_rnn.md

    The layers are TimeRNNs, or BidirectionalRNNs for ``nn.RNN(num_layers=L, bidirectional=True)``,
    whose layers after the first read 2H features. States use the ``h_n`` layout ``(S, N, H)``,
    ``S = L * num_directions``, layer by layer (and forward before backward within a layer).
    """

    def __init__(self, layers: list[TimeRNN | BidirectionalRNN]):
        if not layers:
            raise ValueError("StackedRNN needs at least one layer")
        for k in range(1, len(layers)):
            if layers[k].input_size != layers[k - 1].output_size:
                raise ValueError(f"layer {k} reads {layers[k].input_size} features, but layer {k - 1} "
                                 f"outputs {layers[k - 1].output_size}: they must be equal")
        if len({layer.hidden_size for layer in layers}) > 1:
            raise ValueError("every layer needs the same hidden size H, as in nn.RNN (the h_n layout stacks their states)")
        self.layers = list(layers)
        self.params = [p for layer in layers for p in layer.params]
        self.grads = [g for layer in layers for g in layer.grads]
        self.param_names = tuple(f"l{k}.{name}" for k, layer in enumerate(layers) for name in layer.param_names)
        self.dh = None  # (S, N, H) gradient with respect to the initial states

    @classmethod
    def init(cls, D: int, H: int, num_layers: int, rng: np.random.Generator,
             bidirectional: bool = False, dtype=np.float32) -> "StackedRNN":
        """The layers of ``nn.RNN(D, H, num_layers, bidirectional=bidirectional)``, PyTorch's initialization."""
        make = BidirectionalRNN.init if bidirectional else TimeRNN.init
        layers = [make(D, H, rng, dtype)]
        for _ in range(1, num_layers):
            layers.append(make(layers[-1].output_size, H, rng, dtype))
        return cls(layers)

    @property
    def input_size(self) -> int:
        return self.layers[0].input_size

    @property
    def hidden_size(self) -> int:
        return self.layers[0].hidden_size

    @property
    def output_size(self) -> int:
        return self.layers[-1].output_size

    def _split_by_layer(self, states: np.ndarray) -> list[np.ndarray]:
        """``(S, N, H)`` -> one block per layer in its own layout: (N, H) for a TimeRNN, (2, N, H) for a BidirectionalRNN."""
        directions = [layer.num_directions for layer in self.layers]
        _check_shape("StackedRNN", "the states", states, "(S, N, H)", (sum(directions), None, self.hidden_size))
        blocks = np.split(states, np.cumsum(directions)[:-1])
        return [block[0] if d == 1 else block for d, block in zip(directions, blocks)]

    def set_state(self, h0: np.ndarray) -> None:
        """Start every layer from its part of ``h0: (S, N, H)``."""
        for layer, h in zip(self.layers, self._split_by_layer(h0)):
            layer.set_state(h)

    def reset_state(self) -> None:
        for layer in self.layers:
            layer.reset_state()

    def final_hidden_states(self) -> np.ndarray:
        """(S, N, H), ``h_n`` of ``nn.RNN``."""
        return np.concatenate([layer.final_hidden_states() for layer in self.layers])

    def forward(self, xs: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            xs = layer.forward(xs)
        return xs

    def backward(self, dhs: np.ndarray, dh_last: np.ndarray | None = None) -> np.ndarray:
        """``dhs: (N, T, H or 2H) -> dxs: (N, T, D)``; dh_last: (S, N, H), the gradient of ``h_n``."""
        dh_lasts = [None] * len(self.layers) if dh_last is None else self._split_by_layer(dh_last)
        for layer, dh in zip(reversed(self.layers), reversed(dh_lasts)):
            dhs = layer.backward(dhs, dh)
        # A TimeRNN's dh is (N, H), a BidirectionalRNN's (2, N, H): both become blocks of (S, N, H).
        self.dh = np.concatenate([layer.dh.reshape(-1, *layer.dh.shape[-2:]) for layer in self.layers])
        return dhs
