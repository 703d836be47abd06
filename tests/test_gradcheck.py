"""The gradient checker must catch wrong gradients, not only pass right ones."""
import numpy as np
import pytest

from seqlab.gradcheck import check_layer_gradients, numerical_gradient, relative_error
from seqlab.layers import Affine


class AffineWithWrongBiasGradient(Affine):
    """A plausible bug: the bias gradient is averaged over the batch instead of summed."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads[1][...] = dout.mean(axis=0)
        return dx


def test_checker_flags_a_wrong_parameter_gradient():
    rng = np.random.default_rng(0)
    layer = AffineWithWrongBiasGradient(*Affine.init(4, 3, rng, dtype=np.float64).params)
    errors = check_layer_gradients(layer, [rng.standard_normal((5, 4))])
    assert errors["W"] < 1e-7 and errors["input0"] < 1e-7
    assert errors["b"] > 0.5


def test_numerical_gradient_of_a_known_function():
    x = np.array([1.0, -2.0, 3.0])
    grad = numerical_gradient(lambda: float(np.sum(x**3)), x)
    assert relative_error(grad, 3 * x**2) < 1e-8
    np.testing.assert_array_equal(x, [1.0, -2.0, 3.0])  # restored after perturbation


def test_numerical_gradient_refuses_float32():
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda: 0.0, np.zeros(3, dtype=np.float32))


def test_relative_error_ignores_round_off_zeros_but_not_real_errors():
    assert relative_error(np.array([0.0, 1e-15]), np.array([1e-14, 0.0])) == 0.0
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])) == pytest.approx(0.2 / 2.2)
