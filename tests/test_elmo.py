"""ELMo's scalar mix: gradient-checked in float64, equal to its PyTorch twin in float32."""
import numpy as np
import pytest
import torch

from seqlab.convert import scalar_mix_to_torch
from seqlab.elmo import ScalarMix
from seqlab.gradcheck import check_layer_gradients


def test_scalar_mix_gradients_pass_a_numerical_check():
    rng = np.random.default_rng(0)
    mix = ScalarMix(rng.standard_normal(3), np.array([1.7]))
    errors = check_layer_gradients(mix, [rng.standard_normal((3, 2, 4, 5))])
    assert max(errors.values()) <= 1e-7, errors


def test_scalar_mix_equals_its_torch_twin():
    rng = np.random.default_rng(1)
    mix = ScalarMix(rng.standard_normal(3).astype(np.float32), np.array([0.6], np.float32))
    layers = rng.standard_normal((3, 4, 7, 6)).astype(np.float32)
    dout = rng.standard_normal((4, 7, 6)).astype(np.float32)
    module = scalar_mix_to_torch(mix)
    t_layers = torch.from_numpy(layers).requires_grad_()
    t_out = module(t_layers)
    t_out.backward(torch.from_numpy(dout))
    torch.testing.assert_close(torch.from_numpy(mix.forward(layers)), t_out.detach(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.from_numpy(mix.backward(dout)), t_layers.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.from_numpy(mix.grads[0]), module.w.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.from_numpy(mix.grads[1]), module.gamma.grad, rtol=1e-5, atol=1e-5)


def test_an_even_mix_at_initialization_and_a_named_error():
    mix = ScalarMix.init(2)
    layers = np.stack([np.zeros((2, 3), np.float32), np.ones((2, 3), np.float32)])
    np.testing.assert_allclose(mix.forward(layers), 0.5)
    with pytest.raises(ValueError, match="built for 2 layers"):
        mix.forward(np.zeros((3, 2, 3), np.float32))
