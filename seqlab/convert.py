"""Every weight-layout conversion between the course's NumPy layers and ``torch.nn`` lives here.

The NumPy layers compute ``x @ W`` with ``W: (D, H)``; ``torch.nn`` modules compute
``x @ weight.T`` with ``weight: (H, D)``. Moving weights is therefore a transpose, plus, for the
recurrent layers, splitting one bias into PyTorch's two. The gated layers keep PyTorch's gate
order (LSTM i, f, g, o), so no gate moves; the LSTM weights of "Deep Learning from Scratch 2",
in the order f, g, i, o, are converted here too.
"""
from __future__ import annotations

import numpy as np
import torch

from seqlab.layers import Affine, Embedding
from seqlab.gru import GRU, BidirectionalGRU, StackedGRU, TimeGRU
from seqlab.lstm import LSTM, BidirectionalLSTM, StackedLSTM, TimeLSTM
from seqlab.rnn import RNN, Bidirectional, BidirectionalRNN, Stacked, StackedRNN, TimeRNN


def to_torch(x: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    """A tensor with a copy of ``x``'s data and dtype (float32 stays float32)."""
    return torch.tensor(np.ascontiguousarray(x), requires_grad=requires_grad)


def affine_to_linear(affine: Affine) -> torch.nn.Linear:
    """An ``nn.Linear`` computing the same map as ``affine``: ``weight = W.T``, ``bias = b``."""
    W, b = affine.params
    D, H = W.shape
    linear = torch.nn.Linear(D, H, dtype=torch.from_numpy(W).dtype)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(W.T.copy()))
        linear.bias.copy_(torch.from_numpy(b))
    return linear


def linear_to_affine(linear: torch.nn.Linear) -> Affine:
    """The NumPy ``Affine`` of an ``nn.Linear``: ``W = weight.T``, ``b = bias``."""
    weight = linear.weight.detach().cpu().numpy()
    bias = linear.bias.detach().cpu().numpy() if linear.bias is not None else np.zeros(weight.shape[0], weight.dtype)
    return Affine(weight.T.copy(), bias.copy())


def linear_grads_as_affine(linear: torch.nn.Linear) -> list[np.ndarray]:
    """``nn.Linear``'s gradients in ``Affine``'s layout, ``[dW (D, H), db (H,)]``, to compare with ``Affine.grads``."""
    return [linear.weight.grad.detach().cpu().numpy().T, linear.bias.grad.detach().cpu().numpy()]


def embedding_to_torch(embedding: Embedding) -> torch.nn.Embedding:
    """An ``nn.Embedding`` with the same table: ``weight = W``, both (V, D), no transpose."""
    W = embedding.params[0]
    return torch.nn.Embedding.from_pretrained(to_torch(W), freeze=False)


def torch_embedding_to_numpy(embedding: torch.nn.Embedding) -> Embedding:
    """The NumPy ``Embedding`` of an ``nn.Embedding``: ``W = weight``."""
    return Embedding(embedding.weight.detach().cpu().numpy().copy())


# Recurrent layers. torch.nn.RNN and nn.RNNCell (tanh), and likewise nn.LSTM and nn.LSTMCell,
# differ from the NumPy layers in five ways:
# - weights are transposed: weight_ih_l{k} = Wx.T (H, D) and weight_hh_l{k} = Wh.T (H, H);
# - there are two biases, bias_ih and bias_hh, that only ever appear as their sum: exporting sets
#   bias_ih = b and bias_hh = 0; importing sets b = bias_ih + bias_hh. Each of torch's biases gets
#   the same gradient, equal to our db;
# - the backward direction of a bidirectional layer has the suffix _reverse: weight_ih_l0_reverse;
# - inputs are (T, N, D) unless batch_first=True, the NumPy layers' (N, T, D); h0 and h_n are
#   (num_layers * num_directions, N, H) either way, never batch first;
# - layer k > 0 of a bidirectional nn.RNN reads 2H features: its weight_ih_l{k} is (H, 2H).
# An LSTM's weights hold four blocks of H rows (torch) or columns (ours), i, f, g, o in both:
# weight_ih_l{k} = Wx.T is (4H, D), weight_hh_l{k} = Wh.T is (4H, H), each bias (4H,).

def _rnn_suffixes(num_layers: int, bidirectional: bool) -> list[str]:
    """nn.RNN's parameter suffixes in its own order, which is also the order of our params."""
    directions = ("", "_reverse") if bidirectional else ("",)
    return [f"_l{k}{direction}" for k in range(num_layers) for direction in directions]


def _load_rnn_weights(module: torch.nn.Module, suffix: str, layer: RNN | TimeRNN | LSTM | TimeLSTM) -> None:
    Wx, Wh, b = layer.params
    with torch.no_grad():
        getattr(module, f"weight_ih{suffix}").copy_(to_torch(Wx.T))
        getattr(module, f"weight_hh{suffix}").copy_(to_torch(Wh.T))
        getattr(module, f"bias_ih{suffix}").copy_(to_torch(b))
        getattr(module, f"bias_hh{suffix}").zero_()


def _read_rnn_weights(module: torch.nn.Module, suffix: str) -> list[np.ndarray]:
    """``[Wx (D, GH), Wh (H, GH), b (GH,)]`` from one layer and direction of an nn.RNN, nn.LSTM or their cells (G gates)."""
    weight_ih = getattr(module, f"weight_ih{suffix}").detach().cpu()
    weight_hh = getattr(module, f"weight_hh{suffix}").detach().cpu()
    if module.bias:
        b = (getattr(module, f"bias_ih{suffix}") + getattr(module, f"bias_hh{suffix}")).detach().cpu()
    else:
        b = torch.zeros(weight_hh.shape[0], dtype=weight_hh.dtype)
    return [weight_ih.T.numpy().copy(), weight_hh.T.numpy().copy(), b.numpy().copy()]


def _read_rnn_grads(module: torch.nn.Module, suffix: str) -> list[np.ndarray]:
    """``[dWx, dWh, db]``; ``db`` is ``bias_ih.grad``, which equals ``bias_hh.grad``."""
    names = ("weight_ih", "weight_hh", "bias_ih")
    dWx, dWh, db = (getattr(module, f"{name}{suffix}").grad.detach().cpu().numpy() for name in names)
    return [dWx.T, dWh.T, db]


def _require_tanh(module: torch.nn.Module) -> None:
    if module.nonlinearity != "tanh":
        raise ValueError(f"the NumPy RNN layers use tanh, this module uses {module.nonlinearity!r}")


def rnn_cell_to_torch(cell: RNN) -> torch.nn.RNNCell:
    """An ``nn.RNNCell`` computing the same step as ``cell``.

    ``weight_ih = Wx.T`` (H, D), ``weight_hh = Wh.T`` (H, H), ``bias_ih = b``, ``bias_hh = 0``.
    ``nn.RNNCell(x, h)`` takes x: (N, D), h: (N, H) like ``RNN.forward(x, h_prev)``.
    """
    Wx = cell.params[0]
    module = torch.nn.RNNCell(*Wx.shape, nonlinearity="tanh", dtype=torch.from_numpy(Wx).dtype)
    _load_rnn_weights(module, "", cell)
    return module


def torch_rnn_cell_to_numpy(cell: torch.nn.RNNCell) -> RNN:
    """The NumPy ``RNN`` of an ``nn.RNNCell``: ``Wx = weight_ih.T``, ``Wh = weight_hh.T``, ``b = bias_ih + bias_hh``."""
    _require_tanh(cell)
    return RNN(*_read_rnn_weights(cell, ""))


def torch_rnn_cell_grads_as_numpy(cell: torch.nn.RNNCell) -> list[np.ndarray]:
    """``nn.RNNCell``'s gradients in ``RNN``'s layout, ``[dWx (D, H), dWh (H, H), db (H,)]``."""
    return _read_rnn_grads(cell, "")


def _directions_by_layer(layer) -> list[tuple]:
    """Each layer's time layers (TimeRNN, TimeLSTM...), forward direction first."""
    layers = layer.layers if isinstance(layer, Stacked) else [layer]
    return [(sub.forward_layer, sub.backward_layer) if isinstance(sub, Bidirectional) else (sub,) for sub in layers]


def _time_layers_to_torch(layer, time_layer: type, module_type: type, batch_first: bool,
                          load=_load_rnn_weights, **options) -> torch.nn.Module:
    """An ``nn.RNN``, ``nn.LSTM`` or ``nn.GRU`` (``module_type``) with the weights of a time layer, a
    Bidirectional or a Stacked of ``time_layer``s; ``load(module, suffix, time_layer)`` copies one layer and direction."""
    directions = _directions_by_layer(layer)
    wrong = [type(sub).__name__ for pair in directions for sub in pair if not isinstance(sub, time_layer)]
    if wrong:
        raise ValueError(f"an nn.{module_type.__name__} is made of {time_layer.__name__} layers, this layer holds a {wrong[0]}")
    if len({len(d) for d in directions}) > 1:
        raise ValueError(f"nn.{module_type.__name__} needs every layer to be bidirectional, or none of them")
    first = directions[0][0]
    module = module_type(first.input_size, first.hidden_size, num_layers=len(directions), batch_first=batch_first,
                         bidirectional=len(directions[0]) == 2, dtype=torch.from_numpy(first.params[0]).dtype, **options)
    time_layers = [sub for pair in directions for sub in pair]
    for suffix, sub in zip(_rnn_suffixes(module.num_layers, module.bidirectional), time_layers):
        load(module, suffix, sub)
    return module


def _assemble(time_layers: list, bidirectional: bool, bidirectional_type: type, stacked_type: type):
    """One time layer, a Bidirectional pair, or a Stacked of those, from the layers in nn.RNN's order."""
    if bidirectional:
        layers = [bidirectional_type(*time_layers[k : k + 2]) for k in range(0, len(time_layers), 2)]
    else:
        layers = time_layers
    return layers[0] if len(layers) == 1 else stacked_type(layers)


def time_rnn_to_torch(layer: TimeRNN | BidirectionalRNN | StackedRNN, batch_first: bool = True) -> torch.nn.RNN:
    """An ``nn.RNN`` computing the same as ``layer``: a TimeRNN, a BidirectionalRNN, or a StackedRNN of either.

    Per layer k (suffix ``_l{k}``, ``_l{k}_reverse`` for the backward direction):
    ``weight_ih = Wx.T`` (H, D), ``weight_hh = Wh.T`` (H, H), ``bias_ih = b``, ``bias_hh = 0``.
    With ``batch_first=False`` the module takes xs as (T, N, D), the transpose of ours; its
    ``h0`` and ``h_n`` are (num_layers * num_directions, N, H) either way, as ``final_hidden_states()``.
    """
    return _time_layers_to_torch(layer, TimeRNN, torch.nn.RNN, batch_first, nonlinearity="tanh")


def torch_rnn_to_numpy(module: torch.nn.RNN) -> TimeRNN | BidirectionalRNN | StackedRNN:
    """The NumPy layer of an ``nn.RNN``: ``Wx = weight_ih.T``, ``Wh = weight_hh.T``, ``b = bias_ih + bias_hh``.

    One layer gives a TimeRNN (or a BidirectionalRNN); several give a StackedRNN of those. The
    layers are not stateful, and dropout between layers, active only in training, is not carried over.
    """
    _require_tanh(module)
    time_rnns = [TimeRNN(*_read_rnn_weights(module, suffix))
                 for suffix in _rnn_suffixes(module.num_layers, module.bidirectional)]
    return _assemble(time_rnns, module.bidirectional, BidirectionalRNN, StackedRNN)


def torch_rnn_grads_as_numpy(module: torch.nn.RNN) -> list[np.ndarray]:
    """``nn.RNN``'s gradients in the layout and order of the NumPy layer's ``grads``: per layer and direction ``[dWx, dWh, db]``."""
    suffixes = _rnn_suffixes(module.num_layers, module.bidirectional)
    return [grad for suffix in suffixes for grad in _read_rnn_grads(module, suffix)]


# LSTM. The same five differences as the RNN's; the gates need no reordering, both sides use i, f, g, o.

def lstm_cell_to_torch(cell: LSTM) -> torch.nn.LSTMCell:
    """An ``nn.LSTMCell`` computing the same step as ``cell``.

    ``weight_ih = Wx.T`` (4H, D), ``weight_hh = Wh.T`` (4H, H), ``bias_ih = b``, ``bias_hh = 0``.
    ``nn.LSTMCell(x, (h, c))`` returns ``(h_next, c_next)`` like ``LSTM.forward(x, h_prev, c_prev)``.
    """
    Wx = cell.params[0]
    module = torch.nn.LSTMCell(Wx.shape[0], cell.hidden_size, dtype=torch.from_numpy(Wx).dtype)
    _load_rnn_weights(module, "", cell)
    return module


def torch_lstm_cell_to_numpy(cell: torch.nn.LSTMCell) -> LSTM:
    """The NumPy ``LSTM`` of an ``nn.LSTMCell``: ``Wx = weight_ih.T``, ``Wh = weight_hh.T``, ``b = bias_ih + bias_hh``."""
    return LSTM(*_read_rnn_weights(cell, ""))


def torch_lstm_cell_grads_as_numpy(cell: torch.nn.LSTMCell) -> list[np.ndarray]:
    """``nn.LSTMCell``'s gradients in ``LSTM``'s layout, ``[dWx (D, 4H), dWh (H, 4H), db (4H,)]``."""
    return _read_rnn_grads(cell, "")


def time_lstm_to_torch(layer: TimeLSTM | BidirectionalLSTM | StackedLSTM, batch_first: bool = True) -> torch.nn.LSTM:
    """An ``nn.LSTM`` computing the same as ``layer``: a TimeLSTM, a BidirectionalLSTM, or a StackedLSTM of either.

    Per layer k (suffix ``_l{k}``, ``_l{k}_reverse`` for the backward direction):
    ``weight_ih = Wx.T`` (4H, D), ``weight_hh = Wh.T`` (4H, H), ``bias_ih = b``, ``bias_hh = 0``.
    With ``batch_first=False`` the module takes xs as (T, N, D); ``(h0, c0)`` and ``(h_n, c_n)``
    are (num_layers * num_directions, N, H) either way, as ``final_hidden_states()``.
    """
    return _time_layers_to_torch(layer, TimeLSTM, torch.nn.LSTM, batch_first)


def torch_lstm_to_numpy(module: torch.nn.LSTM) -> TimeLSTM | BidirectionalLSTM | StackedLSTM:
    """The NumPy layer of an ``nn.LSTM``: ``Wx = weight_ih.T``, ``Wh = weight_hh.T``, ``b = bias_ih + bias_hh``.

    One layer gives a TimeLSTM (or a BidirectionalLSTM); several give a StackedLSTM of those. The
    layers are not stateful, and dropout between layers, active only in training, is not carried over.
    """
    if module.proj_size:
        raise ValueError(f"this nn.LSTM projects its hidden states to proj_size={module.proj_size}; "
                         "the NumPy TimeLSTM has no projection: use proj_size=0")
    time_lstms = [TimeLSTM(*_read_rnn_weights(module, suffix))
                  for suffix in _rnn_suffixes(module.num_layers, module.bidirectional)]
    return _assemble(time_lstms, module.bidirectional, BidirectionalLSTM, StackedLSTM)


def torch_lstm_grads_as_numpy(module: torch.nn.LSTM) -> list[np.ndarray]:
    """``nn.LSTM``'s gradients in the layout and order of the NumPy layer's ``grads``: per layer and direction ``[dWx, dWh, db]``."""
    return torch_rnn_grads_as_numpy(module)


# "Deep Learning from Scratch 2" (common/time_layers.py) fuses the LSTM gates in the order
# f, g, i, o: the same Wx (D, 4H), Wh (H, 4H), b (4H,) layout as ours, with the blocks of H
# columns permuted. Converting is a permutation of the blocks, no transpose.
_DLFS2_GATE_ORDER = ("f", "g", "i", "o")
_OUR_GATE_ORDER = ("i", "f", "g", "o")


def _permute_gate_blocks(weights, source: tuple[str, ...], target: tuple[str, ...]) -> list[np.ndarray]:
    """The arrays of ``weights`` (each with 4H on its last axis) with their gate blocks moved from ``source`` order to ``target``."""
    moved = []
    for name, W in zip(("Wx", "Wh", "b"), weights, strict=True):
        W = np.asarray(W)
        if W.shape[-1] % 4:
            raise ValueError(f"{name} must have 4H on its last axis, one block of H per gate; got shape {W.shape}")
        blocks = np.split(W, 4, axis=-1)
        moved.append(np.concatenate([blocks[source.index(gate)] for gate in target], axis=-1))
    return moved


def lstm_weights_from_dlfs2(Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    """``[Wx (D, 4H), Wh (H, 4H), b (4H,)]`` in our gate order i, f, g, o, from the order f, g, i, o
    of "Deep Learning from Scratch 2". ``TimeLSTM(*lstm_weights_from_dlfs2(*its_params))`` computes
    the same as its TimeLSTM."""
    return _permute_gate_blocks([Wx, Wh, b], _DLFS2_GATE_ORDER, _OUR_GATE_ORDER)


def lstm_weights_to_dlfs2(Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    """The inverse of :func:`lstm_weights_from_dlfs2`: our i, f, g, o blocks in the book's order f, g, i, o."""
    return _permute_gate_blocks([Wx, Wh, b], _OUR_GATE_ORDER, _DLFS2_GATE_ORDER)


# GRU. nn.GRU keeps two full biases, bias_ih = [b_ir, b_iz, b_in] and bias_hh = [b_hr, b_hz, b_hn].
# The r and z halves only ever appear as sums, which our b holds; b_hn is scaled by the reset gate
# and b_in is not, so they stay apart: b = [b_ir + b_hr, b_iz + b_hz, b_in] (3H,) and b_hn (H,).
# Exporting sets bias_ih = b and bias_hh = [0, 0, b_hn]. Gradients: db = bias_ih.grad and
# db_hn = bias_hh.grad[2H:] (torch's bias_hh.grad[:2H] equals bias_ih.grad[:2H]).

def _load_gru_weights(module: torch.nn.Module, suffix: str, layer: GRU | TimeGRU) -> None:
    Wx, Wh, b, b_hn = layer.params
    H = Wh.shape[0]
    with torch.no_grad():
        getattr(module, f"weight_ih{suffix}").copy_(to_torch(Wx.T))
        getattr(module, f"weight_hh{suffix}").copy_(to_torch(Wh.T))
        getattr(module, f"bias_ih{suffix}").copy_(to_torch(b))
        bias_hh = getattr(module, f"bias_hh{suffix}")
        bias_hh.zero_()
        bias_hh[2 * H :] = to_torch(b_hn)


def _read_gru_weights(module: torch.nn.Module, suffix: str) -> list[np.ndarray]:
    """``[Wx (D, 3H), Wh (H, 3H), b (3H,), b_hn (H,)]`` from one layer and direction of an nn.GRU or nn.GRUCell."""
    Wx, Wh, _ = _read_rnn_weights(module, suffix)  # its b, the sum of all of both biases, is wrong for n
    H = Wh.shape[0]
    if not module.bias:
        return [Wx, Wh, np.zeros(3 * H, Wh.dtype), np.zeros(H, Wh.dtype)]
    bias_ih = getattr(module, f"bias_ih{suffix}").detach().cpu().numpy()
    bias_hh = getattr(module, f"bias_hh{suffix}").detach().cpu().numpy()
    b = bias_ih.copy()
    b[: 2 * H] += bias_hh[: 2 * H]
    return [Wx, Wh, b, bias_hh[2 * H :].copy()]


def _read_gru_grads(module: torch.nn.Module, suffix: str) -> list[np.ndarray]:
    """``[dWx, dWh, db, db_hn]``: ``db = bias_ih.grad``, ``db_hn = bias_hh.grad[2H:]``."""
    dWx, dWh, db = _read_rnn_grads(module, suffix)
    H = dWh.shape[0]
    db_hn = getattr(module, f"bias_hh{suffix}").grad.detach().cpu().numpy()[2 * H :]
    return [dWx, dWh, db, db_hn]


def gru_cell_to_torch(cell: GRU) -> torch.nn.GRUCell:
    """An ``nn.GRUCell`` computing the same step as ``cell``.

    ``weight_ih = Wx.T`` (3H, D), ``weight_hh = Wh.T`` (3H, H), ``bias_ih = b``, ``bias_hh = [0, 0, b_hn]``.
    """
    Wx = cell.params[0]
    module = torch.nn.GRUCell(Wx.shape[0], cell.hidden_size, dtype=torch.from_numpy(Wx).dtype)
    _load_gru_weights(module, "", cell)
    return module


def torch_gru_cell_to_numpy(cell: torch.nn.GRUCell) -> GRU:
    """The NumPy ``GRU`` of an ``nn.GRUCell``: ``Wx = weight_ih.T``, ``Wh = weight_hh.T``,
    ``b = bias_ih + [b_hr, b_hz, 0]``, ``b_hn = bias_hh[2H:]``."""
    return GRU(*_read_gru_weights(cell, ""))


def torch_gru_cell_grads_as_numpy(cell: torch.nn.GRUCell) -> list[np.ndarray]:
    """``nn.GRUCell``'s gradients in ``GRU``'s layout, ``[dWx (D, 3H), dWh (H, 3H), db (3H,), db_hn (H,)]``."""
    return _read_gru_grads(cell, "")


def time_gru_to_torch(layer: TimeGRU | BidirectionalGRU | StackedGRU, batch_first: bool = True) -> torch.nn.GRU:
    """An ``nn.GRU`` computing the same as ``layer``: a TimeGRU, a BidirectionalGRU, or a StackedGRU of either.

    Per layer k (suffix ``_l{k}``, ``_l{k}_reverse`` for the backward direction):
    ``weight_ih = Wx.T`` (3H, D), ``weight_hh = Wh.T`` (3H, H), ``bias_ih = b``, ``bias_hh = [0, 0, b_hn]``.
    """
    return _time_layers_to_torch(layer, TimeGRU, torch.nn.GRU, batch_first, load=_load_gru_weights)


def torch_gru_to_numpy(module: torch.nn.GRU) -> TimeGRU | BidirectionalGRU | StackedGRU:
    """The NumPy layer of an ``nn.GRU`` (see :func:`torch_gru_cell_to_numpy` for the biases).

    One layer gives a TimeGRU (or a BidirectionalGRU); several give a StackedGRU of those. The
    layers are not stateful, and dropout between layers is not carried over.
    """
    time_grus = [TimeGRU(*_read_gru_weights(module, suffix))
                 for suffix in _rnn_suffixes(module.num_layers, module.bidirectional)]
    return _assemble(time_grus, module.bidirectional, BidirectionalGRU, StackedGRU)


def torch_gru_grads_as_numpy(module: torch.nn.GRU) -> list[np.ndarray]:
    """``nn.GRU``'s gradients in the layout and order of the NumPy layer's ``grads``: per layer and direction ``[dWx, dWh, db, db_hn]``."""
    suffixes = _rnn_suffixes(module.num_layers, module.bidirectional)
    return [grad for suffix in suffixes for grad in _read_gru_grads(module, suffix)]
