"""Layers: gradient checks in float64, agreement with torch.nn on the same weights, and dropout."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqlab.convert import affine_to_linear, linear_grads_as_affine, linear_to_affine, to_torch
from seqlab.gradcheck import check_layer_gradients, numerical_gradient, relative_error
from seqlab.layers import Affine, Dropout, SoftmaxCrossEntropy, VariationalDropout


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


# --- Dropout --------------------------------------------------------------------------------


@pytest.mark.parametrize("layer_type, shape", [(Dropout, (4, 5)), (Dropout, (2, 3, 4)), (VariationalDropout, (2, 3, 4))])
def test_dropout_gradients_with_a_fixed_mask(layer_type, shape):
    rng = np.random.default_rng(7)
    x, dout = rng.standard_normal(shape), rng.standard_normal(shape)
    layer = layer_type(0.4)

    def loss() -> float:
        layer.rng = np.random.default_rng(0)  # the same mask at every evaluation
        return float(np.sum(layer.forward(x) * dout))

    loss()
    error = relative_error(layer.backward(dout), numerical_gradient(loss, x))
    assert error <= 1e-7 and layer.mask is not None


def test_dropout_is_inverted_seeded_and_the_identity_in_evaluation():
    x = np.ones((200, 100), np.float32)
    layer = Dropout(0.25, rng=3)
    out = layer.forward(x)
    assert out.dtype == np.float32
    assert set(np.unique(out)) == {0.0, np.float32(1 / 0.75)}  # survivors scaled by 1 / (1 - p)
    assert abs((out == 0).mean() - 0.25) < 0.01
    assert abs(out.mean() - 1.0) < 0.02  # the expectation is unchanged
    np.testing.assert_array_equal(Dropout(0.25, rng=3).forward(x), out)  # same seed, same mask
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), out)  # gradient through the same mask
    assert layer.eval().forward(x) is x and layer.backward(x) is x
    assert layer.train().forward(x) is not x
    assert Dropout(0.0).forward(x) is x


def test_variational_dropout_uses_one_mask_for_every_time_step():
    x = np.ones((8, 6, 10))
    out = VariationalDropout(0.5, rng=np.random.default_rng(4)).forward(x)
    assert out.shape == x.shape
    np.testing.assert_array_equal(out, np.broadcast_to(out[:, :1], out.shape))  # constant along T
    assert 0 < (out == 0).mean() < 1
    assert not np.array_equal(out[0], out[1])  # but a different mask per sequence
    fresh = Dropout(0.5, rng=np.random.default_rng(4)).forward(x)
    assert not np.array_equal(fresh, np.broadcast_to(fresh[:, :1], fresh.shape))


def test_dropout_explains_wrong_arguments():
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\), got 1"):
        Dropout(1)
    with pytest.raises(ValueError, match=r"VariationalDropout expects x of shape \(N, T, D\), got \(4, 5\)"):
        VariationalDropout(0.5).forward(np.zeros((4, 5)))
