"""The highway layer: gradient check in float64 and agreement with its PyTorch twin."""
import numpy as np
import pytest
import torch

from seqlab.convert import highway_to_torch, to_torch, torch_highway_grads_as_numpy
from seqlab.gradcheck import check_layer_gradients
from seqlab.highway import Highway
from seqlab.highway_torch import TorchHighway


def test_gradients_match_numerical_ones_in_float64():
    rng = np.random.default_rng(0)
    layer = Highway.init(4, rng, dtype=np.float64)
    x = rng.standard_normal((2, 3, 4))
    errors = check_layer_gradients(layer, [x])
    assert max(errors.values()) <= 1e-7, errors


def test_agrees_with_torch_on_outputs_and_every_gradient():
    rng = np.random.default_rng(1)
    layer = Highway.init(6, rng)
    x = rng.standard_normal((4, 3, 6)).astype(np.float32)
    dout = rng.standard_normal((4, 3, 6)).astype(np.float32)
    module = highway_to_torch(layer)
    t_x = to_torch(x, requires_grad=True)
    t_out = module(t_x)
    t_out.backward(torch.from_numpy(dout))
    out = layer.forward(x)
    dx = layer.backward(dout)
    torch.testing.assert_close(torch.from_numpy(out), t_out.detach(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.from_numpy(dx), t_x.grad, rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(layer.grads, torch_highway_grads_as_numpy(module)):
        torch.testing.assert_close(torch.from_numpy(ours), torch.from_numpy(theirs), rtol=1e-5, atol=1e-5)


def test_a_closed_gate_carries_the_input_unchanged():
    layer = Highway.init(4, np.random.default_rng(2), gate_bias=-50.0, dtype=np.float64)
    x = np.random.default_rng(3).standard_normal((2, 4))
    np.testing.assert_allclose(layer.forward(x), x, atol=1e-12)
    np.testing.assert_allclose(layer.backward(np.ones_like(x)), np.ones_like(x), atol=1e-12)


def test_the_carry_scales_the_gradient_by_one_minus_t():
    """With W = 0 and b_h = 0 the candidate is 0 and t = sigmoid(b_t) everywhere: y = (1 - t) x."""
    D, gate_bias = 3, -2.0
    b = np.zeros(2 * D)
    b[D:] = gate_bias
    layer = Highway(np.zeros((D, 2 * D)), b)
    x = np.random.default_rng(4).standard_normal((5, D))
    carry = 1 - 1 / (1 + np.exp(-gate_bias))
    np.testing.assert_allclose(layer.forward(x), carry * x, rtol=1e-12)
    np.testing.assert_allclose(layer.backward(np.ones_like(x)), np.full_like(x, carry), rtol=1e-12)


def test_gate_bias_and_shapes():
    module = TorchHighway(3, gate_bias=-2.0)
    assert torch.all(module.linear.bias[3:] == -2.0)
    with pytest.raises(ValueError, match="W of shape"):
        Highway(np.zeros((3, 3)), np.zeros(6))
    with pytest.raises(ValueError, match="last axis"):
        Highway.init(3, np.random.default_rng(0)).forward(np.zeros((2, 4), np.float32))
