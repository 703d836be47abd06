"""Recurrent layers: one tanh RNN step, the step unrolled over time, and stacks and pairs of those.

Taught in: book/02_rnn.md

The math of a step, ``h_t = tanh(h_{t-1} Wh + x_t Wx + b)``, lives in :func:`rnn_step_forward`
and :func:`rnn_step_backward` only; the classes below call them and hold no arithmetic of their own.
Weights: ``Wx: (D, H)``, ``Wh: (H, H)``, ``b: (H,)``. ``torch.nn.RNN`` stores the transposes and
two biases; :mod:`seqlab.convert` moves weights between the two.

State layouts: a :class:`TimeRNN` has one state, ``h: (N, H)``. :class:`Bidirectional` and
:class:`Stacked` hold several and use PyTorch's ``h_n`` layout ``(S, N, H)`` with
``S = num_layers * num_directions``, for ``set_state``, ``final_hidden_states()``, ``dh`` and the
``dh_last`` argument of ``backward``.

The two wrappers work for any *time layer*: :class:`TimeRNN` here, ``TimeLSTM`` (whose state is
the pair ``(h, c)``) and ``TimeGRU`` later. A time layer has ``state_names`` (``("h",)`` or
``("h", "c")``), ``set_state(*states)`` with one ``(N, H)`` array per name, ``backward(dhs, *d_lasts)``
with one optional ``(N, H)`` gradient per name, and returns every state in the ``(S, N, H)`` layout
from ``final_states()`` and ``initial_state_grads()``. :class:`BidirectionalRNN` and
:class:`StackedRNN` are the wrappers of TimeRNNs, ``nn.RNN(bidirectional=True)`` and ``nn.RNN(num_layers=L)``.
"""
from __future__ import annotations

import numpy as np


def rnn_step_forward(x, h_prev, Wx, Wh, b):
    """One step ``h_next = tanh(h_prev Wh + x Wx + b)``.

    x: (N, D), h_prev: (N, H) -> h_next: (N, H), and the cache that
    :func:`rnn_step_backward` needs.
    """
    h_next = np.tanh(h_prev @ Wh + x @ Wx + b)
    return h_next, (x, h_prev, h_next)


def rnn_step_backward(dh_next, cache, Wx, Wh):
    """Gradients of one step from ``dh_next = dL/dh_next: (N, H)``.

    Returns ``(dx, dh_prev, dWx, dWh, db)``.
    """
    x, h_prev, h_next = cache
    # tanh'(a) = 1 - tanh(a)^2: the step's output is all we need
    da = dh_next * (1 - h_next**2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, da.sum(axis=0)


def _check_shape(owner: str, name: str, array, layout: str, expected: tuple) -> None:
    """Raise a ValueError that names the expected layout; ``None`` in ``expected`` matches any size."""
    shape = np.shape(array)
    if len(shape) != len(expected) or any(e is not None and e != n for e, n in zip(expected, shape)):
        letters = layout.strip("(,)").split(", ")
        sizes = ", ".join(letter if e is None else str(e) for letter, e in zip(letters, expected))
        sizes += "," if len(expected) == 1 else ""  # (4,), as Python writes a shape
        raise ValueError(f"{owner} expects {name} of shape {layout} = ({sizes}), got {shape}")


def _checked_weights(owner: str, Wx, Wh, b, num_gates: int = 1) -> list[np.ndarray]:
    """``[Wx (D, GH), Wh (H, GH), b (GH,)]`` after checking their shapes; G = num_gates (4 for an LSTM)."""
    G = "" if num_gates == 1 else str(num_gates)
    _check_shape(owner, "Wx", Wx, f"(D, {G}H)", (None, None))
    if Wx.shape[1] % num_gates:
        raise ValueError(f"{owner} expects Wx of shape (D, {G}H), one block of H columns per gate; "
                         f"got {Wx.shape}, whose {Wx.shape[1]} columns are not a multiple of {num_gates}")
    H = Wx.shape[1] // num_gates
    _check_shape(owner, "Wh", Wh, f"(H, {G}H)", (H, num_gates * H))
    _check_shape(owner, "b", b, f"({G}H,)", (num_gates * H,))
    return [Wx, Wh, b]


def _init_weights(D: int, H: int, rng: np.random.Generator, dtype, num_gates: int = 1) -> list[np.ndarray]:
    """``[Wx (D, GH), Wh (H, GH), b (GH,)]`` drawn from Uniform(-1/sqrt(H), 1/sqrt(H)), the default
    of ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU``.

    PyTorch draws its two biases that way; their sum, our ``b``, would be triangular on twice the range.
    """
    bound = 1 / np.sqrt(H)
    G = num_gates
    return [rng.uniform(-bound, bound, size=shape).astype(dtype) for shape in [(D, G * H), (H, G * H), (G * H,)]]


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


class SingleStateTimeLayer:
    """What a time layer with one state ``h: (N, H)`` shares: sizes, and the state's handling.

    Subclasses (TimeRNN, TimeGRU) hold ``params`` with ``Wx: (D, .)`` first and ``Wh: (H, .)``
    second, and set ``h0``, ``h`` and ``dh`` in ``forward`` and ``backward``.
    """

    @property
    def input_size(self) -> int:
        return self.params[0].shape[0]

    @property
    def hidden_size(self) -> int:
        return self.params[1].shape[0]

    @property
    def output_size(self) -> int:  # one direction: the outputs are the hidden states
        return self.hidden_size

    def set_state(self, h: np.ndarray) -> None:
        """Start the next call (every call, unless stateful) from ``h: (N, H)``."""
        _check_shape(type(self).__name__, "the state h", h, "(N, H)", (None, self.hidden_size))
        self.h0 = h

    def reset_state(self) -> None:
        self.h0 = self.h = None

    def final_hidden_states(self) -> np.ndarray:
        """The last state of the last call in ``nn.RNN``/``nn.GRU``'s ``h_n`` layout, (1, N, H)."""
        if self.h is None:
            raise RuntimeError(f"{type(self).__name__} has no final hidden state yet: call forward first")
        return self.h[None]

    def final_states(self) -> tuple[np.ndarray]:
        """``(h_n,)``, each state (1, N, H): the form every time layer shares, for the wrappers."""
        return (self.final_hidden_states(),)

    def initial_state_grads(self) -> tuple[np.ndarray]:
        """``(dh0,)`` in the ``(1, N, H)`` layout, from the last ``backward``."""
        if self.dh is None:
            raise RuntimeError(f"{type(self).__name__} has no initial-state gradient yet: call backward first")
        return (self.dh[None],)


class TimeRNN(SingleStateTimeLayer):
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
    state_names = ("h",)
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

    def forward(self, xs: np.ndarray) -> np.ndarray:
        Wx, Wh, b = self.params
        D, H = self.input_size, self.hidden_size
        _check_shape("TimeRNN", "xs", xs, "(N, T, D)", (None, None, D))
        N, T, _ = xs.shape
        dtype = np.result_type(xs, Wx)
        h = np.zeros((N, H), dtype) if self.h0 is None else self.h0
        if h.shape != (N, H):
            raise ValueError(
                f"TimeRNN starts from a state of shape {h.shape} but xs has "
                f"batch size {N}: call reset_state() when the batch size "
                f"changes, or set_state(h) with h: (N, H)")
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

    def backward(self, dhs: np.ndarray,
                 dh_last: np.ndarray | None = None) -> np.ndarray:
        """Backpropagation through time: dhs (N, T, H) -> dxs (N, T, D).

        dh_last: (N, H), a gradient flowing into the last state ``h`` from
        outside the outputs (an encoder's state read by a decoder). Sets
        ``self.dh = dL/dh0`` and the weight gradients, summed over the T
        steps.
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
            # h_t feeds both the output (dhs[:, t]) and the next step (dh):
            # the gradients add.
            dx, dh, *dparams = rnn_step_backward(dhs[:, t] + dh,
                                                 self.caches[t], Wx, Wh)
            dxs[:, t] = dx
            for grad, dparam in zip(self.grads, dparams):
                grad += dparam  # the same weights act at every step
        self.dh = dh
        return dxs


def _time_layer_kind(layer) -> type:
    """The time layer a layer is made of: TimeRNN for a TimeRNN and for a Bidirectional of TimeRNNs."""
    return type(layer.forward_layer) if isinstance(layer, Bidirectional) else type(layer)


def _split_state_grads(owner: str, state_names: tuple[str, ...], **d_lasts) -> tuple:
    """The ``backward`` arguments ``dh_last``, ``dc_last`` as one entry per state, refusing extra ones."""
    names = [f"d{name}_last" for name in state_names]
    extra = [key for key, value in d_lasts.items() if value is not None and key not in names]
    if extra:
        raise ValueError(f"{owner} has the states {state_names}: it takes no {extra[0]}")
    return tuple(d_lasts.get(name) for name in names)


class Bidirectional:
    """Two time layers of one kind, one reading left to right and one right to left: ``(N, T, D) -> (N, T, 2H)``.

    Taught in: book/02_rnn.md

    Each direction has its own weights: ``forward_layer.params`` are ``Wx, Wh, b`` and
    ``backward_layer.params`` are the backward direction's ``W'x, W'h, b'`` (separate arrays, of the
    same shapes), which ``nn.RNN(bidirectional=True)`` stores as its ``*_reverse`` parameters.

    Output t is ``[forward h_t, backward h_t]``, forward half first, as in ``nn.RNN(bidirectional=True)``
    (and ``nn.LSTM``, ``nn.GRU``). Every state (``h``, and ``c`` for an LSTM) uses the ``h_n``
    layout ``(2, N, H)``: index 0 forward, 1 backward. The backward direction's last state is the
    one at t = 0: it has read the whole sequence when it gets there.

    Subclasses fix the time layer, for ``init``: :class:`BidirectionalRNN`, ``BidirectionalLSTM``...
    """

    num_directions = 2
    time_layer: type | None = None  # what ``init`` builds and the constructor accepts; None: any

    def __init__(self, forward_layer, backward_layer):
        owner = type(self).__name__
        kinds = {type(forward_layer), type(backward_layer)}
        if len(kinds) > 1:
            raise ValueError(f"{owner} needs two layers of one kind, got {type(forward_layer).__name__} forward "
                             f"and {type(backward_layer).__name__} backward")
        if self.time_layer is not None and not isinstance(forward_layer, self.time_layer):
            raise ValueError(f"{owner} wraps {self.time_layer.__name__} layers, got {type(forward_layer).__name__}")
        if forward_layer.stateful or backward_layer.stateful:
            raise ValueError(f"{owner} reads each sequence whole in both directions: its layers cannot be stateful")
        sizes = [(layer.input_size, layer.hidden_size) for layer in (forward_layer, backward_layer)]
        if sizes[0] != sizes[1]:
            raise ValueError(f"both directions need the same (D, H), got {sizes[0]} forward and {sizes[1]} backward")
        self.forward_layer, self.backward_layer = forward_layer, backward_layer
        self.state_names = forward_layer.state_names
        self.params = forward_layer.params + backward_layer.params
        self.grads = forward_layer.grads + backward_layer.grads
        self.param_names = tuple(f"{direction}.{name}" for direction in ("fwd", "bwd") for name in forward_layer.param_names)
        self.dh = None  # (2, N, H) gradient with respect to the initial states h0
        self.dc = None  # (2, N, H) the same for c0, when the time layer has a cell state

    @classmethod
    def init(cls, D: int, H: int, rng: np.random.Generator, dtype=np.float32):
        """Two new time layers of ``cls.time_layer``, with PyTorch's initialization (forward drawn first)."""
        if cls.time_layer is None:
            raise TypeError(f"{cls.__name__}.init does not know which time layer to build: call "
                            f"BidirectionalRNN.init or BidirectionalLSTM.init, or pass two layers to {cls.__name__}(...)")
        return cls(cls.time_layer.init(D, H, rng, dtype), cls.time_layer.init(D, H, rng, dtype))

    @property
    def stateful(self) -> bool:
        return False

    @property
    def input_size(self) -> int:
        return self.forward_layer.input_size

    @property
    def hidden_size(self) -> int:
        return self.forward_layer.hidden_size

    @property
    def output_size(self) -> int:
        return 2 * self.hidden_size

    def set_state(self, *states: np.ndarray) -> None:
        """Start both directions from ``h0`` (and ``c0``), each ``(2, N, H)``: ``set_state(h0)`` or ``set_state(h0, c0)``."""
        owner = type(self).__name__
        if len(states) != len(self.state_names):
            raise TypeError(f"{owner}.set_state takes the states {self.state_names}, each (2, N, H); got {len(states)} arrays")
        for name, state in zip(self.state_names, states):
            _check_shape(owner, f"the state {name}0", state, "(2, N, H)", (2, None, self.hidden_size))
        self.forward_layer.set_state(*(state[0] for state in states))
        self.backward_layer.set_state(*(state[1] for state in states))

    def reset_state(self) -> None:
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def final_states(self) -> tuple[np.ndarray, ...]:
        """One (2, N, H) array per state name, forward direction first."""
        return tuple(np.concatenate(pair) for pair in zip(self.forward_layer.final_states(), self.backward_layer.final_states()))

    def final_hidden_states(self):
        """What the torch module returns beside the outputs: ``h_n`` (2, N, H), or ``(h_n, c_n)`` for an LSTM."""
        states = self.final_states()
        return states[0] if len(states) == 1 else states

    def initial_state_grads(self) -> tuple[np.ndarray, ...]:
        """One (2, N, H) gradient per state name, from the last ``backward``."""
        return tuple(np.concatenate(pair) for pair in zip(self.forward_layer.initial_state_grads(),
                                                          self.backward_layer.initial_state_grads()))

    def forward(self, xs: np.ndarray) -> np.ndarray:
        # Left to right with Wx, Wh, b: h_t from h_{t-1}.
        hs_forward = self.forward_layer.forward(xs)
        # Right to left with the backward layer's own W'x, W'h, b': h'_t
        # from h'_{t+1}. Read on the reversed sequence it is an ordinary
        # recurrent layer; reversing its outputs puts h'_t at step t.
        hs_backward = self.backward_layer.forward(xs[:, ::-1])[:, ::-1]
        # (N, T, 2H): [h_t, h'_t] at every step
        return np.concatenate([hs_forward, hs_backward], axis=-1)

    def backward(self, dhs: np.ndarray, dh_last: np.ndarray | None = None, dc_last: np.ndarray | None = None) -> np.ndarray:
        """``dhs: (N, T, 2H) -> dxs: (N, T, D)``; dh_last (and dc_last): (2, N, H), the gradients of ``h_n`` (and ``c_n``)."""
        owner, H = type(self).__name__, self.hidden_size
        _check_shape(owner, "dhs", dhs, "(N, T, 2H)", (None, None, 2 * H))
        d_lasts = _split_state_grads(owner, self.state_names, dh_last=dh_last, dc_last=dc_last)
        for name, d_last in zip(self.state_names, d_lasts):
            if d_last is not None:
                _check_shape(owner, f"d{name}_last", d_last, "(2, N, H)", (2, None, H))
        forward_lasts = [None if d is None else d[0] for d in d_lasts]
        backward_lasts = [None if d is None else d[1] for d in d_lasts]
        dxs_forward = self.forward_layer.backward(dhs[..., :H], *forward_lasts)
        dxs_backward = self.backward_layer.backward(dhs[:, ::-1, H:], *backward_lasts)[:, ::-1]
        self.dh, *rest = self.initial_state_grads()
        self.dc = rest[0] if rest else None
        return dxs_forward + dxs_backward  # both directions read the same xs


class Stacked:
    """Recurrent layers on top of each other, layer k reading layer k-1's outputs; ``nn.RNN(num_layers=L)``.

    Taught in: book/02_rnn.md

    The layers are time layers of one kind (TimeRNN, TimeLSTM...), or :class:`Bidirectional` pairs
    of them for ``bidirectional=True``, whose layers after the first read 2H features. Every state
    uses the ``h_n`` layout ``(S, N, H)``, ``S = L * num_directions``, layer by layer (and forward
    before backward within a layer), as ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU`` do.

    Subclasses fix the kind of layer, for ``init``: :class:`StackedRNN`, ``StackedLSTM``...
    """

    time_layer: type | None = None  # what ``init`` builds and the constructor accepts; None: any
    bidirectional_layer: type | None = None

    def __init__(self, layers: list):
        owner = type(self).__name__
        if not layers:
            raise ValueError(f"{owner} needs at least one layer")
        kinds = [_time_layer_kind(layer) for layer in layers]
        expected = self.time_layer or kinds[0]
        for k, kind in enumerate(kinds):
            if not issubclass(kind, expected):
                raise ValueError(f"{owner} needs layers made of {expected.__name__}, but layer {k} is made of {kind.__name__}")
        for k in range(1, len(layers)):
            if layers[k].input_size != layers[k - 1].output_size:
                raise ValueError(f"layer {k} reads {layers[k].input_size} features, but layer {k - 1} "
                                 f"outputs {layers[k - 1].output_size}: they must be equal")
        if len({layer.hidden_size for layer in layers}) > 1:
            raise ValueError("every layer needs the same hidden size H, as in nn.RNN (the h_n layout stacks their states)")
        self.layers = list(layers)
        self.state_names = layers[0].state_names
        self.params = [p for layer in layers for p in layer.params]
        self.grads = [g for layer in layers for g in layer.grads]
        self.param_names = tuple(f"l{k}.{name}" for k, layer in enumerate(layers) for name in layer.param_names)
        self.dh = None  # (S, N, H) gradient with respect to the initial states h0
        self.dc = None  # (S, N, H) the same for c0, when the layers have a cell state

    @classmethod
    def init(cls, D: int, H: int, num_layers: int, rng: np.random.Generator,
             bidirectional: bool = False, dtype=np.float32, stateful: bool = False):
        """The layers of ``nn.RNN(D, H, num_layers, bidirectional=bidirectional)`` (or of the LSTM, GRU
        the subclass names), PyTorch's initialization. ``stateful`` applies to one-directional stacks."""
        if cls.time_layer is None or cls.bidirectional_layer is None:
            raise TypeError(f"{cls.__name__}.init does not know which layers to build: call StackedRNN.init "
                            f"or StackedLSTM.init, or pass the layers to {cls.__name__}([...])")
        if bidirectional and stateful:
            raise ValueError("a bidirectional stack reads each sequence whole: it cannot be stateful")

        def make(D_k: int):
            if bidirectional:
                return cls.bidirectional_layer.init(D_k, H, rng, dtype)
            return cls.time_layer.init(D_k, H, rng, dtype, stateful=stateful)

        layers = [make(D)]
        for _ in range(1, num_layers):
            layers.append(make(layers[-1].output_size))
        return cls(layers)

    @property
    def stateful(self) -> bool:
        return all(layer.stateful for layer in self.layers)

    @property
    def input_size(self) -> int:
        return self.layers[0].input_size

    @property
    def hidden_size(self) -> int:
        return self.layers[0].hidden_size

    @property
    def output_size(self) -> int:
        return self.layers[-1].output_size

    def _split_by_layer(self, name: str, states: np.ndarray) -> list[np.ndarray]:
        """``(S, N, H)`` -> one block per layer in its own layout: (N, H) for a time layer, (2, N, H) for a Bidirectional."""
        directions = [layer.num_directions for layer in self.layers]
        _check_shape(type(self).__name__, name, states, "(S, N, H)", (sum(directions), None, self.hidden_size))
        blocks = np.split(states, np.cumsum(directions)[:-1])
        return [block[0] if d == 1 else block for d, block in zip(directions, blocks)]

    def set_state(self, *states: np.ndarray) -> None:
        """Start every layer from its part of ``h0`` (and ``c0``), each ``(S, N, H)``."""
        if len(states) != len(self.state_names):
            raise TypeError(f"{type(self).__name__}.set_state takes the states {self.state_names}, "
                            f"each (S, N, H); got {len(states)} arrays")
        name = "the states" if len(states) == 1 else "the state {}0"
        per_state = [self._split_by_layer(name.format(n), state) for n, state in zip(self.state_names, states)]
        for layer, layer_states in zip(self.layers, zip(*per_state)):
            layer.set_state(*layer_states)

    def reset_state(self) -> None:
        for layer in self.layers:
            layer.reset_state()

    def final_states(self) -> tuple[np.ndarray, ...]:
        """One (S, N, H) array per state name."""
        return tuple(np.concatenate(blocks) for blocks in zip(*(layer.final_states() for layer in self.layers)))

    def final_hidden_states(self):
        """What the torch module returns beside the outputs: ``h_n`` (S, N, H), or ``(h_n, c_n)`` for an LSTM."""
        states = self.final_states()
        return states[0] if len(states) == 1 else states

    def initial_state_grads(self) -> tuple[np.ndarray, ...]:
        """One (S, N, H) gradient per state name, from the last ``backward``."""
        return tuple(np.concatenate(blocks) for blocks in zip(*(layer.initial_state_grads() for layer in self.layers)))

    def forward(self, xs: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            xs = layer.forward(xs)
        return xs

    def backward(self, dhs: np.ndarray, dh_last: np.ndarray | None = None, dc_last: np.ndarray | None = None) -> np.ndarray:
        """``dhs: (N, T, H or 2H) -> dxs: (N, T, D)``; dh_last (and dc_last): (S, N, H), the gradients of ``h_n`` (and ``c_n``)."""
        d_lasts = _split_state_grads(type(self).__name__, self.state_names, dh_last=dh_last, dc_last=dc_last)
        per_state = [[None] * len(self.layers) if d is None else self._split_by_layer(f"d{n}_last", d)
                     for n, d in zip(self.state_names, d_lasts)]
        per_layer = list(zip(*per_state))
        for layer, layer_lasts in zip(reversed(self.layers), reversed(per_layer)):
            dhs = layer.backward(dhs, *layer_lasts)
        self.dh, *rest = self.initial_state_grads()
        self.dc = rest[0] if rest else None
        return dhs


class BidirectionalRNN(Bidirectional):
    """Two TimeRNNs, one per direction: ``nn.RNN(bidirectional=True)``. See :class:`Bidirectional`.

    Taught in: book/02_rnn.md
    """

    time_layer = TimeRNN


class StackedRNN(Stacked):
    """TimeRNNs (or BidirectionalRNNs) on top of each other: ``nn.RNN(num_layers=L)``. See :class:`Stacked`.

    Taught in: book/02_rnn.md
    """

    time_layer = TimeRNN
    bidirectional_layer = BidirectionalRNN
