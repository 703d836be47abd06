"""InfoNCE with in-batch negatives: gradient check and agreement with PyTorch."""
import numpy as np
import pytest
import torch

from seqlab.contrastive import info_nce
from seqlab.contrastive_torch import info_nce_torch
from seqlab.gradcheck import numerical_gradient, relative_error


def test_gradients_match_numerical_ones_in_float64():
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    _, dq, dk = info_nce(q, k, 0.5)
    for x, dx in ((q, dq), (k, dk)):
        numeric = numerical_gradient(lambda: info_nce(q, k, 0.5)[0], x)
        assert relative_error(dx, numeric) <= 1e-7


def test_agrees_with_torch_in_float32():
    rng = np.random.default_rng(1)
    q, k = (rng.standard_normal((8, 6)).astype(np.float32) for _ in range(2))
    loss, dq, dk = info_nce(q, k, 0.1)
    t_q, t_k = torch.from_numpy(q).requires_grad_(), torch.from_numpy(k).requires_grad_()
    t_loss = info_nce_torch(t_q, t_k, 0.1)
    t_loss.backward()
    torch.testing.assert_close(torch.tensor(loss), t_loss.detach(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.from_numpy(dq), t_q.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.from_numpy(dk), t_k.grad, rtol=1e-5, atol=1e-5)
    assert dq.dtype == np.float32


def test_matched_pairs_give_a_small_loss():
    x = np.random.default_rng(2).standard_normal((64, 32))
    assert info_nce(x, x, 0.05)[0] < 0.01


@pytest.mark.parametrize("temperature", [10.0, 1.0, 0.1, 0.01])
def test_collapsed_keys_give_exactly_log_n_at_any_temperature(temperature):
    rng = np.random.default_rng(3)
    queries, keys = rng.standard_normal((16, 8)), np.tile(rng.standard_normal(8), (16, 1))
    assert info_nce(queries, keys, temperature)[0] == pytest.approx(np.log(16), abs=1e-12)


def test_random_embeddings_score_log_n_plus_half_the_score_variance_at_large_temperature():
    """L ~ log N + (1 - 1/N) s^2 / 2, s = 1 / (tau sqrt(D)) the spread of random scores."""
    rng = np.random.default_rng(4)
    N, D, tau = 64, 32, 0.5
    losses = [info_nce(rng.standard_normal((N, D)), rng.standard_normal((N, D)), tau)[0] for _ in range(200)]
    s = 1 / (tau * np.sqrt(D))
    assert np.mean(losses) == pytest.approx(np.log(N) + (1 - 1 / N) * s**2 / 2, abs=0.01)


def test_random_embeddings_score_far_above_log_n_at_small_temperature():
    rng = np.random.default_rng(5)
    losses = [info_nce(rng.standard_normal((8, 6)), rng.standard_normal((8, 6)), 0.1)[0] for _ in range(50)]
    assert np.mean(losses) > np.log(8) + 1
    assert min(losses) >= 0, "InfoNCE is a cross-entropy against one-hot targets: never negative"


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="queries and keys"):
        info_nce(np.zeros((3, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="temperature"):
        info_nce(np.ones((3, 2)), np.ones((3, 2)), 0.0)
