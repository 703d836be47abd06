"""Every weight-layout conversion between the course's NumPy layers and ``torch.nn`` lives here.

The NumPy layers compute ``x @ W`` with ``W: (D, H)``; ``torch.nn`` modules compute
``x @ weight.T`` with ``weight: (H, D)``. Moving weights is therefore a transpose, plus, for the
recurrent layers of later chapters, splitting one bias into PyTorch's two.
"""
from __future__ import annotations

import numpy as np
import torch

from seqlab.layers import Affine, Embedding
from seqlab.rnn import RNN, BidirectionalRNN, StackedRNN, TimeRNN


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


# Recurrent layers. torch.nn.RNN and nn.RNNCell (tanh) differ from the NumPy layers in five ways:
# - weights are transposed: weight_ih_l{k} = Wx.T (H, D) and weight_hh_l{k} = Wh.T (H, H);
# - there are two biases, bias_ih and bias_hh, that only ever appear as their sum: exporting sets
#   bias_ih = b and bias_hh = 0; importing sets b = bias_ih + bias_hh. Each of torch's biases gets
#   the same gradient, equal to our db;
# - the backward direction of a bidirectional layer has the suffix _reverse: weight_ih_l0_reverse;
# - inputs are (T, N, D) unless batch_first=True, the NumPy layers' (N, T, D); h0 and h_n are
#   (num_layers * num_directions, N, H) either way, never batch first;
# - layer k > 0 of a bidirectional nn.RNN reads 2H features: its weight_ih_l{k} is (H, 2H).

def _rnn_suffixes(num_layers: int, bidirectional: bool) -> list[str]:
    """nn.RNN's parameter suffixes in its own order, which is also the order of our params."""
    directions = ("", "_reverse") if bidirectional else ("",)
    return [f"_l{k}{direction}" for k in range(num_layers) for direction in directions]


def _load_rnn_weights(module: torch.nn.Module, suffix: str, layer: RNN | TimeRNN) -> None:
    Wx, Wh, b = layer.params
    with torch.no_grad():
        getattr(module, f"weight_ih{suffix}").copy_(to_torch(Wx.T))
        getattr(module, f"weight_hh{suffix}").copy_(to_torch(Wh.T))
        getattr(module, f"bias_ih{suffix}").copy_(to_torch(b))
        getattr(module, f"bias_hh{suffix}").zero_()


def _read_rnn_weights(module: torch.nn.Module, suffix: str) -> list[np.ndarray]:
    """``[Wx (D, H), Wh (H, H), b (H,)]`` from one layer and direction of an nn.RNN or nn.RNNCell."""
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


def _directions_by_layer(layer: TimeRNN | BidirectionalRNN | StackedRNN) -> list[tuple[TimeRNN, ...]]:
    """Each layer's TimeRNNs, forward direction first."""
    layers = layer.layers if isinstance(layer, StackedRNN) else [layer]
    return [(sub.forward_layer, sub.backward_layer) if isinstance(sub, BidirectionalRNN) else (sub,) for sub in layers]


def time_rnn_to_torch(layer: TimeRNN | BidirectionalRNN | StackedRNN, batch_first: bool = True) -> torch.nn.RNN:
    """An ``nn.RNN`` computing the same as ``layer``: a TimeRNN, a BidirectionalRNN, or a StackedRNN of either.

    Per layer k (suffix ``_l{k}``, ``_l{k}_reverse`` for the backward direction):
    ``weight_ih = Wx.T`` (H, D), ``weight_hh = Wh.T`` (H, H), ``bias_ih = b``, ``bias_hh = 0``.
    With ``batch_first=False`` the module takes xs as (T, N, D), the transpose of ours; its
    ``h0`` and ``h_n`` are (num_layers * num_directions, N, H) either way, as ``final_hidden_states()``.
    """
    directions = _directions_by_layer(layer)
    if len({len(d) for d in directions}) > 1:
        raise ValueError("nn.RNN needs every layer to be bidirectional, or none of them")
    first = directions[0][0]
    Wx = first.params[0]
    module = torch.nn.RNN(first.input_size, first.hidden_size, num_layers=len(directions), nonlinearity="tanh",
                          batch_first=batch_first, bidirectional=len(directions[0]) == 2,
                          dtype=torch.from_numpy(Wx).dtype)
    time_rnns = [time_rnn for pair in directions for time_rnn in pair]
    for suffix, time_rnn in zip(_rnn_suffixes(module.num_layers, module.bidirectional), time_rnns):
        _load_rnn_weights(module, suffix, time_rnn)
    return module


def torch_rnn_to_numpy(module: torch.nn.RNN) -> TimeRNN | BidirectionalRNN | StackedRNN:
    """The NumPy layer of an ``nn.RNN``: ``Wx = weight_ih.T``, ``Wh = weight_hh.T``, ``b = bias_ih + bias_hh``.

    One layer gives a TimeRNN (or a BidirectionalRNN); several give a StackedRNN of those. The
    layers are not stateful, and dropout between layers, active only in training, is not carried over.
    """
    _require_tanh(module)
    time_rnns = [TimeRNN(*_read_rnn_weights(module, suffix))
                 for suffix in _rnn_suffixes(module.num_layers, module.bidirectional)]
    if module.bidirectional:
        layers = [BidirectionalRNN(*time_rnns[k : k + 2]) for k in range(0, len(time_rnns), 2)]
    else:
        layers = time_rnns
    return layers[0] if len(layers) == 1 else StackedRNN(layers)


def torch_rnn_grads_as_numpy(module: torch.nn.RNN) -> list[np.ndarray]:
    """``nn.RNN``'s gradients in the layout and order of the NumPy layer's ``grads``: per layer and direction ``[dWx, dWh, db]``."""
    suffixes = _rnn_suffixes(module.num_layers, module.bidirectional)
    return [grad for suffix in suffixes for grad in _read_rnn_grads(module, suffix)]
