"""Layers: gradient checks in float64 and agreement with torch.nn on the same weights."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqlab.convert import affine_to_linear, linear_grads_as_affine, linear_to_affine, to_torch
from seqlab.gradcheck import check_layer_gradients
from seqlab.layers import Affine, SoftmaxCrossEntropy


@pytest.mark.parametrize("x_shape", [(5, 4), (2, 3, 4)])
def test_affine_gradients(x_shape):
    rng = np.random.default_rng(1)
    layer = Affine.init(4, 3, rng, dtype=np.float64)
    errors = check_layer_gradients(layer, [rng.standard_normal(x_shape)])
    assert set(errors) == {"input0", "W", "b"}
    assert max(errors.values()) < 1e-7, errors


def test_softmax_cross_entropy_gradients():
    rng = np.random.default_rng(2)
    layer = SoftmaxCrossEntropy()
    logits, targets = rng.standard_normal((4, 5)), np.array([1, 0, 4, 4])
    errors = check_layer_gradients(layer, [logits], forward=lambda: layer.forward(logits, targets))
    assert errors["input0"] < 1e-7, errors


def test_affine_matches_nn_linear_forward_and_backward():
    rng = np.random.default_rng(3)
    affine = Affine.init(6, 4, rng)
    linear = affine_to_linear(affine)
    assert linear.weight.shape == (4, 6)  # nn.Linear stores (out, in): the transpose of W
    x = rng.standard_normal((8, 6)).astype(np.float32)
    dout = rng.standard_normal((8, 4)).astype(np.float32)

    out = affine.forward(x)
    dx = affine.backward(dout)
    t_x = to_torch(x, requires_grad=True)
    t_out = linear(t_x)
    t_out.backward(torch.from_numpy(dout))

    torch.testing.assert_close(torch.from_numpy(out), t_out.detach())
    torch.testing.assert_close(torch.from_numpy(dx), t_x.grad)
    for ours, theirs in zip(affine.grads, linear_grads_as_affine(linear)):
        torch.testing.assert_close(torch.from_numpy(ours), torch.from_numpy(theirs))
    back = linear_to_affine(linear)
    for a, b in zip(back.params, affine.params):
        np.testing.assert_array_equal(a, b)


def test_backward_writes_gradients_in_place():
    rng = np.random.default_rng(4)
    layer = Affine.init(3, 2, rng)
    held = layer.grads[0]  # an optimizer keeps this reference
    layer.forward(rng.standard_normal((2, 3)).astype(np.float32))
    layer.backward(np.ones((2, 2), dtype=np.float32))
    assert layer.grads[0] is held and np.any(held != 0)


def test_float32_in_float32_out():
    rng = np.random.default_rng(5)
    layer = Affine.init(3, 2, rng)
    out = layer.forward(rng.standard_normal((2, 3)).astype(np.float32))
    assert out.dtype == np.float32
    assert layer.backward(np.ones_like(out)).dtype == np.float32


def test_affine_reports_wrong_input_width():
    layer = Affine.init(3, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="expects inputs with 3 features"):
        layer.forward(np.zeros((2, 4), dtype=np.float32))


def test_softmax_cross_entropy_layer_matches_torch():
    rng = np.random.default_rng(6)
    logits = rng.standard_normal((3, 4, 7)).astype(np.float32)
    targets = rng.integers(0, 7, size=(3, 4))
    layer = SoftmaxCrossEntropy()
    loss = layer.forward(logits, targets)
    t_logits = to_torch(logits, requires_grad=True)
    t_loss = F.cross_entropy(t_logits.reshape(-1, 7), torch.from_numpy(targets).reshape(-1))
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-6)
    torch.testing.assert_close(torch.from_numpy(layer.backward()), t_logits.grad)
