"""seqlab.functional against PyTorch, plus the edge cases where naive formulas break."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqlab.functional import (
    cross_entropy,
    cross_entropy_grad,
    entropy,
    kl_divergence,
    log_softmax,
    logsumexp,
    softmax,
)
from seqlab.gradcheck import numerical_gradient, relative_error

rng = np.random.default_rng(0)


@pytest.mark.parametrize("shape", [(4, 7), (3, 5, 11)])
def test_softmax_and_log_softmax_match_torch(shape):
    x = rng.standard_normal(shape).astype(np.float32) * 5
    torch.testing.assert_close(torch.from_numpy(softmax(x)), F.softmax(torch.from_numpy(x), dim=-1))
    torch.testing.assert_close(torch.from_numpy(log_softmax(x)), F.log_softmax(torch.from_numpy(x), dim=-1))
    torch.testing.assert_close(torch.from_numpy(logsumexp(x)), torch.logsumexp(torch.from_numpy(x), dim=-1))


def test_softmax_survives_huge_logits():
    x = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise"):
        p = softmax(x)
    np.testing.assert_allclose(p[0], p[1][::-1], rtol=1e-6)
    assert np.all(np.isfinite(log_softmax(x)))
    assert log_softmax(np.array([[0.0, -200.0]]))[0, 1] == pytest.approx(-200.0)


def test_softmax_along_other_axis():
    x = rng.standard_normal((3, 4))
    np.testing.assert_allclose(softmax(x, axis=0).sum(axis=0), np.ones(4))
    np.testing.assert_allclose(log_softmax(x, axis=0), np.log(softmax(x, axis=0)))


def test_logsumexp_of_all_minus_inf_row_is_minus_inf():
    x = np.array([[-np.inf, -np.inf], [0.0, 0.0]])
    out = logsumexp(x)
    assert out[0] == -np.inf and out[1] == pytest.approx(np.log(2))


@pytest.mark.parametrize("shape", [(6, 5), (2, 4, 9)])
def test_cross_entropy_with_class_indices_matches_torch(shape):
    logits = rng.standard_normal(shape).astype(np.float32)
    targets = rng.integers(0, shape[-1], size=shape[:-1])
    t_logits = torch.from_numpy(logits).requires_grad_()
    # F.cross_entropy wants the classes on axis 1: (N, C, T) for sequences.
    t_loss = F.cross_entropy(t_logits.movedim(-1, 1), torch.from_numpy(targets))
    t_loss.backward()
    assert cross_entropy(logits, targets) == pytest.approx(t_loss.item(), rel=1e-6)
    torch.testing.assert_close(torch.from_numpy(cross_entropy_grad(logits, targets)), t_logits.grad)


def test_cross_entropy_with_probability_targets_matches_torch():
    logits = rng.standard_normal((5, 4))
    targets = softmax(rng.standard_normal((5, 4)))
    t_logits = torch.from_numpy(logits).requires_grad_()
    t_loss = F.cross_entropy(t_logits, torch.from_numpy(targets))
    t_loss.backward()
    assert cross_entropy(logits, targets) == pytest.approx(t_loss.item(), rel=1e-12)
    torch.testing.assert_close(torch.from_numpy(cross_entropy_grad(logits, targets)), t_logits.grad)


def test_cross_entropy_gradient_is_p_minus_y_numerically():
    logits = rng.standard_normal((3, 6))
    targets = np.array([0, 5, 2])
    numeric = numerical_gradient(lambda: cross_entropy(logits, targets), logits)
    assert relative_error(cross_entropy_grad(logits, targets), numeric) < 1e-7


def test_cross_entropy_rejects_bad_targets_with_a_clear_message():
    logits = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"every index must lie in \[0, 2\]"):
        cross_entropy(logits, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"must have shape \(2,\)"):
        cross_entropy(logits, np.array([0, 1, 2]))


def test_kl_matches_torch_and_cross_entropy_decomposition():
    p = softmax(rng.standard_normal((4, 6)))
    q = softmax(rng.standard_normal((4, 6)))
    expected = F.kl_div(torch.from_numpy(np.log(q)), torch.from_numpy(p), reduction="none").sum(-1)
    torch.testing.assert_close(torch.from_numpy(kl_divergence(p, q)), expected)
    # H(P, Q) = H(P) + KL(P || Q), row by row.
    ce_rows = -np.sum(p * np.log(q), axis=-1)
    np.testing.assert_allclose(ce_rows, entropy(p) + kl_divergence(p, q), rtol=1e-12)


def test_kl_zero_probability_conventions():
    p = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]])
    q = np.array([[0.25, 0.75, 0.0], [0.0, 0.5, 0.5]])
    with np.errstate(all="raise"):
        out = kl_divergence(p, q)
    assert np.isfinite(out[0])  # p = 0 where q = 0: the term is 0
    assert out[1] == np.inf  # p > 0 where q = 0: Q rules out what P says happens
    assert entropy(np.array([1.0, 0.0])) == 0.0


def test_kl_is_not_symmetric():
    p, q = np.array([0.9, 0.1]), np.array([0.5, 0.5])
    assert abs(kl_divergence(p, q) - kl_divergence(q, p)) > 0.05
