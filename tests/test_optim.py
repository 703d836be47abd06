"""Optimizers and clipping against torch.optim and torch.nn.utils on the same numbers."""
import numpy as np
import pytest
import torch

from seqlab.optim import SGD, Adam, AdamW, clip_grads_by_global_norm, global_norm


def arrays(seed, shapes=((3, 4), (4,), (2, 2, 2))):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


# (ours, the torch optimizer, its arguments): defaults first, then each kind of weight decay.
MATCHING_TORCH = {
    "sgd": lambda: (SGD(0.1), torch.optim.SGD, {"lr": 0.1}),
    "adam": lambda: (Adam(0.01), torch.optim.Adam, {"lr": 0.01}),
    "sgd-weight-decay": lambda: (SGD(0.1, weight_decay=0.3), torch.optim.SGD, {"lr": 0.1, "weight_decay": 0.3}),
    "adam-weight-decay": lambda: (Adam(0.01, weight_decay=0.3), torch.optim.Adam,
                                  {"lr": 0.01, "weight_decay": 0.3}),
    "adamw": lambda: (AdamW(0.01, weight_decay=0.3), torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.3}),
    "adamw-default-decay": lambda: (AdamW(0.01), torch.optim.AdamW, {"lr": 0.01}),
    "adam-decoupled": lambda: (Adam(0.01, weight_decay=0.3, decoupled_weight_decay=True), torch.optim.Adam,
                               {"lr": 0.01, "weight_decay": 0.3, "decoupled_weight_decay": True}),
}


@pytest.mark.parametrize("make", MATCHING_TORCH.values(), ids=MATCHING_TORCH.keys())
def test_optimizers_match_torch_over_several_steps(make):
    ours, torch_optimizer, kwargs = make()
    params = arrays(0)
    t_params = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    opt = torch_optimizer(t_params, **kwargs)
    for step in range(20):
        grads = arrays(10 + step)
        ours.update(params, grads)
        for t, g in zip(t_params, grads):
            t.grad = torch.from_numpy(g.copy())
        opt.step()
    for p, t in zip(params, t_params):
        torch.testing.assert_close(torch.from_numpy(p), t.detach(), rtol=1e-6, atol=1e-6)


def test_weight_decay_leaves_the_gradients_unchanged():
    """The decayed gradient is a new array: the layer's own grads stay the loss's gradient."""
    for optimizer in (SGD(0.1, weight_decay=0.5), Adam(0.1, weight_decay=0.5), AdamW(0.1, weight_decay=0.5)):
        params, grads = arrays(0), arrays(1)
        before = [g.copy() for g in grads]
        optimizer.update(params, grads)
        for g, g0 in zip(grads, before):
            np.testing.assert_array_equal(g, g0)


def test_sgd_weight_decay_is_an_l2_penalty_in_the_loss():
    """SGD(weight_decay=lam) on g is plain SGD on the gradient of L + (lam / 2) ||W||^2, g + lam W."""
    lam = 0.25
    decayed, penalized = arrays(0), arrays(0)
    for step in range(10):
        grads = arrays(10 + step)
        SGD(0.1, weight_decay=lam).update(decayed, grads)
        SGD(0.1).update(penalized, [g + lam * W for g, W in zip(grads, penalized)])
    for a, b in zip(decayed, penalized):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_zero_weight_decay_changes_nothing():
    """weight_decay=0 is the plain optimizer, bit for bit, for every kind of decay."""
    pairs = [(SGD(0.1), SGD(0.1, weight_decay=0.0)), (Adam(0.01), Adam(0.01, weight_decay=0.0)),
             (Adam(0.01), AdamW(0.01, weight_decay=0.0))]
    for plain, zero_decay in pairs:
        a, b = arrays(0), arrays(0)
        for step in range(10):
            grads = arrays(10 + step)
            plain.update(a, grads)
            zero_decay.update(b, grads)
        for x, z in zip(a, b):
            np.testing.assert_array_equal(x, z)


def test_adam_and_adamw_decay_differ_and_adamw_shrinks_by_lr_times_lambda():
    """Adam's coupled decay is rescaled by sqrt(v_hat); AdamW's is lr * lambda * W, whatever the gradient."""
    lr, lam = 0.1, 0.5
    params_w, params_a, params_0 = arrays(0), arrays(0), arrays(0)
    grads = arrays(1)
    AdamW(lr, weight_decay=lam).update(params_w, grads)
    Adam(lr, weight_decay=lam).update(params_a, grads)
    Adam(lr).update(params_0, grads)
    for w, a, p0, start in zip(params_w, params_a, params_0, arrays(0)):
        np.testing.assert_allclose(w, p0 - lr * lam * start, rtol=1e-5, atol=1e-6)
        assert np.abs(w - a).max() > 1e-3


@pytest.mark.parametrize("make", [lambda: SGD(0.1, weight_decay=-0.1), lambda: Adam(weight_decay=-1.0),
                                  lambda: AdamW(weight_decay=-0.01)], ids=["sgd", "adam", "adamw"])
def test_negative_weight_decay_is_refused(make):
    with pytest.raises(ValueError, match="weight_decay must be 0 or positive"):
        make()


@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clipping_matches_clip_grad_norm(max_norm):
    grads = arrays(1)
    t_params = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for t, g in zip(t_params, grads):
        t.grad = torch.from_numpy(g.copy())
    t_norm = torch.nn.utils.clip_grad_norm_(t_params, max_norm)
    norm = clip_grads_by_global_norm(grads, max_norm)
    assert norm == pytest.approx(t_norm.item(), rel=1e-6)
    for g, t in zip(grads, t_params):
        torch.testing.assert_close(torch.from_numpy(g), t.grad)
    assert global_norm(grads) == pytest.approx(min(max_norm, norm), rel=1e-5)


def test_clipping_edge_cases_and_errors():
    zeros = [np.zeros(3, np.float32)]
    assert clip_grads_by_global_norm(zeros, 1.0) == 0.0 and not zeros[0].any()
    with pytest.raises(FloatingPointError, match="inf or NaN"):
        clip_grads_by_global_norm([np.array([1.0, np.nan])], 1.0)
    with pytest.raises(ValueError, match="max_norm must be positive"):
        clip_grads_by_global_norm(zeros, 0.0)
    with pytest.raises(ValueError, match="parameter 0 has shape"):
        SGD(0.1).update([np.zeros(3)], [np.zeros(4)])


def test_global_norm_of_huge_float32_gradients_is_finite_and_exact():
    """Exploding gradients (chapter 3): float32 squares of 1e20 overflow, the norm itself does not."""
    grads = [np.full((3, 4), 1e20, np.float32), np.array([-3e20], np.float32)]
    expected = np.sqrt(12 * 1e40 + 9e40)
    assert global_norm(grads) == pytest.approx(expected, rel=1e-6)
    norm = clip_grads_by_global_norm(grads, 1.0)
    assert norm == pytest.approx(expected, rel=1e-6) and global_norm(grads) == pytest.approx(1.0, rel=1e-5)


def test_adam_steps_do_not_depend_on_the_gradient_scale_and_stay_near_lr():
    """Chapter 3: Adam's step is at most about lr, whatever the scale of the gradient."""
    sizes = {}
    for scale in (1e-2, 1.0, 1e3):
        params, adam = [np.zeros((4, 5))], Adam(0.02)
        for step in range(10):
            adam.update(params, [scale * arrays(20 + step, shapes=((4, 5),))[0].astype(np.float64)])
        sizes[scale] = params[0].copy()
    np.testing.assert_allclose(sizes[1e-2], sizes[1e3], rtol=1e-4, atol=1e-9)
    assert np.abs(sizes[1.0]).max() <= 10 * 0.02 * (1 + 1e-6)  # ten steps of at most about lr each


def test_clipping_scales_by_max_norm_over_norm_plus_1e_6():
    grads = [np.array([3.0, 4.0])]  # norm 5
    clip_grads_by_global_norm(grads, 1.0)
    np.testing.assert_allclose(grads[0], np.array([3.0, 4.0]) / (5 + 1e-6), rtol=1e-12)
