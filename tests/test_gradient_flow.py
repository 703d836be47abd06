"""Jacobian norms through time: the product formula, backpropagation and torch.autograd agree."""
import numpy as np
import pytest
import torch

from seqlab.convert import time_rnn_to_torch
from seqlab.gradient_flow import (
    jacobian_norms,
    scaled_orthogonal,
    scaled_to_spectral_radius,
    singular_values,
    spectral_radius,
    state_jacobian,
)
from seqlab.rnn import TimeRNN


def rnn_and_inputs(seed=0, N=3, T=6, D=2, H=4, dtype=np.float64):
    rng = np.random.default_rng(seed)
    layer = TimeRNN.init(D, H, rng, dtype)
    layer.params[1][...] = 1.5 * rng.standard_normal((H, H)) / np.sqrt(H)  # non-symmetric: Wh vs Wh.T matters
    return layer, rng.standard_normal((N, T, D)), 0.5 * rng.standard_normal((N, H))


def test_state_jacobian_matches_torch_autograd():
    layer, xs, h0 = rnn_and_inputs()
    ours = state_jacobian(layer, xs, h0)
    module = time_rnn_to_torch(layer)
    for n in range(len(xs)):
        x = torch.from_numpy(xs[n : n + 1])

        def last_state(h):
            return module(x, h.reshape(1, 1, -1))[1].reshape(-1)

        expected = torch.autograd.functional.jacobian(last_state, torch.from_numpy(h0[n]))
        torch.testing.assert_close(torch.from_numpy(ours[n]), expected)
    assert layer.h0 is None, "state_jacobian resets the layer's state"


def test_jacobian_norms_equal_the_spectral_norm_of_the_backprop_jacobian_at_every_t():
    layer, xs, h0 = rnn_and_inputs(seed=1)
    norms = jacobian_norms(layer, xs, h0)
    assert norms.shape == (3, 6)
    for t in range(1, 7):
        expected = np.linalg.norm(state_jacobian(layer, xs[:, :t], h0), ord=2, axis=(1, 2))
        np.testing.assert_allclose(norms[:, t - 1], expected, rtol=1e-10)


def test_jacobian_norms_of_float32_layers_are_computed_in_float64():
    layer, xs, h0 = rnn_and_inputs(seed=2, dtype=np.float32)
    assert jacobian_norms(layer, xs.astype(np.float32)).dtype == np.float64


def test_linear_regime_follows_the_singular_values():
    """With tiny states tanh' = 1, so dh_t/dh_0 = (Wh.T)^t: for a scaled orthogonal Wh its norm is scale^t."""
    rng = np.random.default_rng(3)
    H, T = 8, 20
    for scale in (0.7, 1.3):
        Wh = scaled_orthogonal(H, scale, rng, np.float64)
        layer = TimeRNN(np.zeros((1, H)), Wh, np.zeros(H))
        norms = jacobian_norms(layer, np.zeros((1, T, 1)))
        np.testing.assert_allclose(norms[0], scale ** np.arange(1, T + 1), rtol=1e-9)


def test_saturation_only_shrinks_the_norm_below_the_bound():
    layer, xs, _ = rnn_and_inputs(seed=4, T=15)
    sigma_max = singular_values(layer.params[1])[0]
    norms = jacobian_norms(layer, 3 * xs)
    assert (norms <= sigma_max ** np.arange(1, 16) * (1 + 1e-12)).all()


def test_matrix_helpers():
    rng = np.random.default_rng(5)
    Q = scaled_orthogonal(6, 2.0, rng)
    assert Q.dtype == np.float32
    np.testing.assert_allclose(singular_values(Q), np.full(6, 2.0), rtol=1e-5)
    assert spectral_radius(Q) == pytest.approx(2.0, rel=1e-5)
    W = rng.standard_normal((6, 6))
    scaled = scaled_to_spectral_radius(W, 0.9)
    assert spectral_radius(scaled) == pytest.approx(0.9)
    assert spectral_radius(W) == pytest.approx(np.max(np.abs(np.linalg.eigvals(W))))
    assert spectral_radius(W) <= singular_values(W)[0]
    with pytest.raises(ValueError, match="square matrix"):
        spectral_radius(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="nilpotent"):
        scaled_to_spectral_radius(np.array([[0.0, 1.0], [0.0, 0.0]]), 1.0)


def test_bad_inputs_are_named():
    layer, xs, h0 = rnn_and_inputs()
    with pytest.raises(ValueError, match=r"xs must have shape \(N, T, D\) = \(N, T, 2\)"):
        jacobian_norms(layer, xs[..., :1])
    with pytest.raises(ValueError, match=r"h0 must have shape \(N, H\) = \(3, 4\)"):
        jacobian_norms(layer, xs, h0[:, :2])
    with pytest.raises(TypeError, match="needs a TimeRNN"):
        jacobian_norms(object(), xs)
    with pytest.raises(ValueError, match="not stateful"):
        state_jacobian(TimeRNN.init(2, 4, np.random.default_rng(0), np.float64, stateful=True), xs, h0)
