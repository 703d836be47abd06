"""Every weight-layout and gradient conversion between the course's NumPy layers and ``torch.nn`` lives here.

The NumPy layers compute ``x @ W`` with ``W: (D, H)``; ``torch.nn`` modules compute
``x @ weight.T`` with ``weight: (H, D)``. Moving weights is therefore a transpose, plus, for the
recurrent layers, splitting one bias into PyTorch's two. The gated layers keep PyTorch's gate
order (LSTM i, f, g, o), so no gate moves; the LSTM weights of "Deep Learning from Scratch 2",
in the order f, g, i, o, are converted here too. Further down: attention and the transformer block
(``nn.MultiheadAttention``, ``nn.TransformerEncoderLayer``), BERT, ELMo's scalar mix, the highway
layer, the seq2seq models and the language models.

The package's layout: ``seqlab/X.py`` is NumPy only, its PyTorch twin is ``seqlab/X_torch.py``,
and the conversions between them are here (``tests/test_package_layout.py`` checks it). The
imports go one way: a twin may import this module at its top (``seqlab.lm_torch`` and
``seqlab.seq2seq_torch`` do), so this module imports only NumPy modules at its top, and each
function that builds a twin's module (``TinyBert``, ``TorchLM``, ``TorchSeq2seq``,
``TorchScalarMix``, ``TorchHighway``) imports that twin inside its body. Every module then
imports on its own, whichever comes first.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from seqlab.attention import LayerNorm, MultiHeadAttention, TransformerEncoderBlock
from seqlab.bert import Bert, BertConfig, BertEmbeddings, MaskedLMHead
from seqlab.elmo import ScalarMix
from seqlab.gru import GRU, BidirectionalGRU, StackedGRU, TimeGRU
from seqlab.highway import Highway
from seqlab.layers import Affine, Embedding, VariationalDropout
from seqlab.lstm import LSTM, BidirectionalLSTM, StackedLSTM, TimeLSTM
from seqlab.rnn import RNN, Bidirectional, BidirectionalRNN, Stacked, StackedRNN, TimeRNN
from seqlab.seq2seq import PeekySeq2seq, Seq2seq

if TYPE_CHECKING:  # the twins import this module; their classes are imported where they are built
    from seqlab.bert_torch import TinyBert
    from seqlab.elmo_torch import TorchScalarMix
    from seqlab.highway_torch import TorchHighway
    from seqlab.lm_torch import TorchLM
    from seqlab.seq2seq_torch import TorchSeq2seq


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

    ``weight_ih = Wx.T`` (H, D), ``weight_hh = Wh.T`` (H, H),
    ``bias_ih = b``, ``bias_hh = 0``. ``nn.RNNCell(x, h)`` takes x: (N, D),
    h: (N, H) like ``RNN.forward(x, h_prev)``.
    """
    Wx = cell.params[0]
    dtype = torch.from_numpy(Wx).dtype
    module = torch.nn.RNNCell(*Wx.shape, nonlinearity="tanh", dtype=dtype)
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


# ---------------------------------------------------------------------------------------------
# Attention and the transformer block (seqlab.attention); BERT (seqlab.bert) further down.
#
# ``nn.MultiheadAttention`` keeps the query, key and value projections in one ``in_proj_weight: (3D, D)``
# (rows: q, then k, then v) and ``in_proj_bias: (3D,)``, and the output projection in
# ``out_proj: nn.Linear(D, D)``. Our ``MultiHeadAttention`` computes ``x @ W_in`` with ``W_in: (D, 3D)``,
# so ``in_proj_weight = W_in.T``: a transpose, as for every ``nn.Linear``. Two more differences:
#
# - masks: ours say where to attend (True = attend, as ``F.scaled_dot_product_attention``'s boolean
#   ``attn_mask``); ``nn.MultiheadAttention``'s ``attn_mask`` and ``key_padding_mask`` say where *not*
#   to attend (True = ignore): torch_masks flips the sign;
# - the module averages the attention weights over the heads when ``need_weights=True``, which is what
#   our ``attention_weights`` holds; ``average_attn_weights=False`` gives them per head.


def mha_to_torch(attention: MultiHeadAttention) -> torch.nn.MultiheadAttention:
    """An ``nn.MultiheadAttention(D, h, batch_first=True)`` with the same weights: ``in_proj_weight = W_in.T``."""
    W_in, b_in, W_out, b_out = attention.params
    D = attention.width
    module = torch.nn.MultiheadAttention(D, attention.num_heads, batch_first=True, dtype=torch.from_numpy(W_in).dtype)
    with torch.no_grad():
        module.in_proj_weight.copy_(to_torch(W_in.T))
        module.in_proj_bias.copy_(to_torch(b_in))
        module.out_proj.weight.copy_(to_torch(W_out.T))
        module.out_proj.bias.copy_(to_torch(b_out))
    return module


def torch_mha_to_numpy(module: torch.nn.MultiheadAttention) -> MultiHeadAttention:
    """The NumPy ``MultiHeadAttention`` of an ``nn.MultiheadAttention`` with one ``in_proj_weight`` (kdim = vdim = D)."""
    if module.in_proj_weight is None:
        raise ValueError("this nn.MultiheadAttention has separate q/k/v projections (kdim or vdim != embed_dim); "
                         "only the packed in_proj_weight layout converts to MultiHeadAttention")
    numpy = lambda t: t.detach().cpu().numpy().copy()
    return MultiHeadAttention(numpy(module.in_proj_weight).T.copy(), numpy(module.in_proj_bias),
                              numpy(module.out_proj.weight).T.copy(), numpy(module.out_proj.bias), module.num_heads)


def torch_mha_grads_as_numpy(module: torch.nn.MultiheadAttention) -> list[np.ndarray]:
    """The module's gradients in ``MultiHeadAttention.grads``' layout: ``[dW_in (D, 3D), db_in, dW_out (D, D), db_out]``."""
    numpy = lambda t: t.grad.detach().cpu().numpy()
    return [numpy(module.in_proj_weight).T, numpy(module.in_proj_bias),
            numpy(module.out_proj.weight).T, numpy(module.out_proj.bias)]


def torch_masks(mask: np.ndarray | None) -> torch.Tensor | None:
    """Our mask (True = attend) as ``nn.MultiheadAttention``'s ``attn_mask`` or ``key_padding_mask`` (True = ignore)."""
    return None if mask is None else torch.from_numpy(~np.asarray(mask, dtype=bool))


def layer_norm_to_torch(norm: LayerNorm) -> torch.nn.LayerNorm:
    """``nn.LayerNorm(D)`` with ``weight = gamma`` and ``bias = beta``, the same eps."""
    gamma, beta = norm.params
    module = torch.nn.LayerNorm(gamma.shape[0], eps=norm.eps, dtype=torch.from_numpy(gamma).dtype)
    with torch.no_grad():
        module.weight.copy_(to_torch(gamma))
        module.bias.copy_(to_torch(beta))
    return module


def transformer_block_to_torch(block: TransformerEncoderBlock) -> torch.nn.TransformerEncoderLayer:
    """``nn.TransformerEncoderLayer(D, h, d_ff, dropout=0, batch_first=True, norm_first=...)`` with the block's weights.

    The torch layer's parameters are ``self_attn`` (in ``nn.MultiheadAttention``'s layout),
    ``linear1``, ``linear2`` (``nn.Linear``: ``weight = W.T``), ``norm1``, ``norm2``; ReLU, no dropout.
    """
    D = block.attention.width
    d_ff = block.linear1.params[0].shape[1]
    dtype = torch.from_numpy(block.params[0]).dtype
    module = torch.nn.TransformerEncoderLayer(D, block.attention.num_heads, d_ff, dropout=0.0, batch_first=True,
                                              norm_first=block.norm_first, dtype=dtype)
    module.self_attn.load_state_dict(mha_to_torch(block.attention).state_dict())
    for name in ("linear1", "linear2"):
        W, b = getattr(block, name).params
        with torch.no_grad():
            getattr(module, name).weight.copy_(to_torch(W.T))
            getattr(module, name).bias.copy_(to_torch(b))
    for name in ("norm1", "norm2"):
        getattr(module, name).load_state_dict(layer_norm_to_torch(getattr(block, name)).state_dict())
    return module


def torch_transformer_block_to_numpy(module: torch.nn.TransformerEncoderLayer) -> TransformerEncoderBlock:
    """The NumPy block of an ``nn.TransformerEncoderLayer`` with ReLU (its dropout is dropped)."""
    if module.activation_relu_or_gelu != 1:
        raise ValueError("TransformerEncoderBlock uses ReLU; this layer uses another activation")
    norms = [LayerNorm(n.weight.detach().cpu().numpy().copy(), n.bias.detach().cpu().numpy().copy(), n.eps)
             for n in (module.norm1, module.norm2)]
    return TransformerEncoderBlock(torch_mha_to_numpy(module.self_attn), linear_to_affine(module.linear1),
                                   linear_to_affine(module.linear2), *norms, norm_first=module.norm_first)


def torch_transformer_block_grads_as_numpy(module: torch.nn.TransformerEncoderLayer) -> list[np.ndarray]:
    """The torch layer's gradients in ``TransformerEncoderBlock.grads``' order and layout."""
    grads = torch_mha_grads_as_numpy(module.self_attn)
    for linear in (module.linear1, module.linear2):
        grads += [linear.weight.grad.detach().cpu().numpy().T, linear.bias.grad.detach().cpu().numpy()]
    for norm in (module.norm1, module.norm2):
        grads += [norm.weight.grad.detach().cpu().numpy(), norm.bias.grad.detach().cpu().numpy()]
    return grads


# ---------------------------------------------------------------------------------------------
# BERT: the NumPy Bert + MaskedLMHead and torch's TinyBert


def bert_to_torch(bert: Bert, head: MaskedLMHead, config: BertConfig) -> TinyBert:
    """A ``TinyBert(config)`` with the weights of the NumPy ``bert`` and ``head`` (its dropout as the config says)."""
    from seqlab.bert_torch import TinyBert

    dtype = torch.from_numpy(bert.params[0]).dtype
    model = TinyBert(config).to(dtype)
    token, segment, position, gamma, beta = bert.embeddings.params
    with torch.no_grad():
        for module, table in ((model.token_embedding, token), (model.segment_embedding, segment),
                              (model.position_embedding, position)):
            module.weight.copy_(to_torch(table))
        model.embedding_norm.weight.copy_(to_torch(gamma))
        model.embedding_norm.bias.copy_(to_torch(beta))
        model.mlm_bias.copy_(to_torch(head.params[0]))
    for layer, block in zip(model.layers, bert.blocks):
        layer.load_state_dict(transformer_block_to_torch(block).state_dict())
    return model


def torch_bert_to_numpy(model: TinyBert) -> tuple[Bert, MaskedLMHead]:
    """The NumPy ``Bert`` and tied ``MaskedLMHead`` of a ``TinyBert`` (dropout dropped: evaluation mode)."""
    numpy = lambda t: t.detach().cpu().numpy().copy()
    norm = model.embedding_norm
    embeddings = BertEmbeddings(Embedding(numpy(model.token_embedding.weight)), Embedding(numpy(model.segment_embedding.weight)),
                                Embedding(numpy(model.position_embedding.weight)),
                                LayerNorm(numpy(norm.weight), numpy(norm.bias), norm.eps))
    bert = Bert(embeddings, [torch_transformer_block_to_numpy(layer) for layer in model.layers])
    return bert, MaskedLMHead(embeddings.token, numpy(model.mlm_bias))


def torch_bert_grads_as_numpy(model: TinyBert) -> list[np.ndarray]:
    """The model's gradients in the order and layout of ``bert.grads + head.grads``."""
    numpy = lambda t: t.grad.detach().cpu().numpy()
    grads = [numpy(model.token_embedding.weight), numpy(model.segment_embedding.weight),
             numpy(model.position_embedding.weight), numpy(model.embedding_norm.weight), numpy(model.embedding_norm.bias)]
    for layer in model.layers:
        grads += torch_transformer_block_grads_as_numpy(layer)
    return grads + [numpy(model.mlm_bias)]


# ---------------------------------------------------------------------------------------------
# ELMo's scalar mix (seqlab.elmo) and the highway layer (seqlab.highway)


def scalar_mix_to_torch(mix: ScalarMix) -> TorchScalarMix:
    """A :class:`~seqlab.elmo_torch.TorchScalarMix` with the weights of ``mix``, in its dtype."""
    from seqlab.elmo_torch import TorchScalarMix

    w, gamma = mix.params
    module = TorchScalarMix(len(w)).to(torch.from_numpy(w).dtype)
    with torch.no_grad():
        module.w.copy_(torch.from_numpy(w))
        module.gamma.copy_(torch.from_numpy(gamma))
    return module


def highway_to_torch(layer: Highway) -> TorchHighway:
    """A :class:`~seqlab.highway_torch.TorchHighway` holding ``layer``'s weights (``linear.weight = W.T``), in its dtype."""
    from seqlab.highway_torch import TorchHighway

    W, b = layer.params
    module = TorchHighway(W.shape[0]).to(torch.from_numpy(W).dtype)
    with torch.no_grad():
        module.linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
        module.linear.bias.copy_(torch.from_numpy(b))
    return module


def torch_highway_grads_as_numpy(module: TorchHighway) -> list[np.ndarray]:
    """The module's gradients in :class:`~seqlab.highway.Highway`'s layout: ``[dW (D, 2D), db (2D,)]``."""
    return [module.linear.weight.grad.detach().numpy().T, module.linear.bias.grad.detach().numpy()]


# ---------------------------------------------------------------------------------------------
# The seq2seq models of seqlab.seq2seq and seqlab.seq2seq_torch's TorchSeq2seq


def seq2seq_to_torch(model: Seq2seq) -> TorchSeq2seq:
    """A :class:`~seqlab.seq2seq_torch.TorchSeq2seq` holding ``model``'s weights (a NumPy Seq2seq or PeekySeq2seq)."""
    from seqlab.seq2seq_torch import TorchSeq2seq

    encoder, decoder = model.encoder, model.decoder
    V, D = encoder.embed.params[0].shape
    H = encoder.hidden_size
    module = TorchSeq2seq(V, D, H, peeky=isinstance(model, PeekySeq2seq),
                          dtype=torch.from_numpy(encoder.embed.params[0]).dtype)
    module.encoder_embed = embedding_to_torch(encoder.embed)
    module.encoder_lstm = time_lstm_to_torch(encoder.lstm, batch_first=True)
    module.decoder_embed = embedding_to_torch(decoder.embed)
    module.decoder_lstm = time_lstm_to_torch(decoder.lstm, batch_first=True)
    module.decoder_affine = affine_to_linear(decoder.affine)
    return module


def torch_seq2seq_grads_as_numpy(module: TorchSeq2seq) -> list[np.ndarray]:
    """The module's gradients in the layout and order of the NumPy model's ``grads``."""
    return ([module.encoder_embed.weight.grad.numpy().copy()] + torch_lstm_grads_as_numpy(module.encoder_lstm)
            + [module.decoder_embed.weight.grad.numpy().copy()] + torch_lstm_grads_as_numpy(module.decoder_lstm)
            + linear_grads_as_affine(module.decoder_affine))


# ---------------------------------------------------------------------------------------------
# The language models of seqlab.models (RNNLM, LSTMLM, BetterLSTMLM, GRULM) and seqlab.lm_torch's TorchLM

# The NumPy time layer of each cell, the converter of its weights to torch, and of torch's gradients back.
_LM_LAYERS = {
    "rnn": (TimeRNN, time_rnn_to_torch, torch_rnn_grads_as_numpy),
    "lstm": (TimeLSTM, time_lstm_to_torch, torch_rnn_grads_as_numpy),
    "gru": (TimeGRU, time_gru_to_torch, torch_gru_grads_as_numpy),
}


def lm_to_torch(model) -> TorchLM:
    """A :class:`~seqlab.lm_torch.TorchLM` holding a copy of the weights of a NumPy ``RNNLM``, ``LSTMLM``,
    ``GRULM`` or ``BetterLSTMLM`` (its dropout probability, variational or not, and tying are carried over).
    ``TorchLM.from_numpy(model)`` calls it."""
    from seqlab.lm_torch import TorchLM

    recurrent = getattr(model, "rnn", None)
    recurrent = getattr(model, "lstm", None) if recurrent is None else recurrent
    if recurrent is None or not hasattr(model, "embedding") or not hasattr(model, "output"):
        raise TypeError(f"TorchLM.from_numpy takes an RNNLM, LSTMLM or BetterLSTMLM (embedding, rnn or "
                        f"lstm, output), got a {type(model).__name__}")
    time_layers = recurrent.layers if isinstance(recurrent, Stacked) else [recurrent]
    cells = [name for name, (layer_type, *_) in _LM_LAYERS.items() if isinstance(time_layers[0], layer_type)]
    if not cells or any(type(layer) is not type(time_layers[0]) for layer in time_layers):
        raise TypeError(f"TorchLM.from_numpy needs one-direction layers of a single kind (TimeRNN, TimeLSTM or "
                        f"TimeGRU), got {[type(layer).__name__ for layer in time_layers]}")
    dropouts = getattr(model, "dropouts", [])
    V, D = model.embedding.params[0].shape
    torch_model = TorchLM(V, D, time_layers[0].hidden_size, cells[0], num_layers=len(time_layers),
                          dropout=dropouts[0].p if dropouts else 0.0,
                          variational=bool(dropouts) and isinstance(dropouts[0], VariationalDropout),
                          tie_weights=getattr(model, "tie_weights", False))
    to_torch_layer = _LM_LAYERS[cells[0]][1]
    torch_model.embedding.load_state_dict(embedding_to_torch(model.embedding).state_dict())
    for module, layer in zip(torch_model.recurrent, time_layers):
        module.load_state_dict(to_torch_layer(layer).state_dict())
    with torch.no_grad():
        linear = affine_to_linear(model.output)
        if not torch_model.tie_weights:  # tied: the weight is the embedding, loaded above
            torch_model.output.weight.copy_(linear.weight)
        torch_model.output.bias.copy_(linear.bias)
    return torch_model


def torch_lm_grads_as_numpy(model: TorchLM) -> list[np.ndarray]:
    """The ``.grad`` of every parameter of a ``TorchLM``, in the layout and order of the NumPy model's ``grads``:
    embedding ``W (V, D)``; per layer ``[dWx, dWh, db]`` (the GRU's ``[dWx, dWh, db, db_hn]``);
    output ``[dW (H, V), db]``, or only ``[db]`` when tied (the embedding's grad is then the sum of both uses).
    ``TorchLM.grads_as_numpy()`` calls it."""
    grads_of_layer = _LM_LAYERS[model.cell][2]
    output_grads = linear_grads_as_affine(model.output)
    return [model.embedding.weight.grad.detach().cpu().numpy(),
            *(g for module in model.recurrent for g in grads_of_layer(module)),
            *(output_grads[1:] if model.tie_weights else output_grads)]
