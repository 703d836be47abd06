"""Attention layers: gradient checks in float64, and agreement with PyTorch in float32."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqlab.attention import (
    Attention,
    AttentionWeight,
    LayerNorm,
    MultiHeadAttention,
    TimeAttention,
    TransformerEncoderBlock,
    WeightSum,
    causal_mask,
    masked_softmax,
    padding_mask,
    positional_encoding,
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)
from seqlab.convert import (
    layer_norm_to_torch,
    mha_to_torch,
    torch_masks,
    torch_mha_grads_as_numpy,
    torch_mha_to_numpy,
    torch_transformer_block_grads_as_numpy,
    to_torch,
    torch_transformer_block_to_numpy,
    transformer_block_to_torch,
)
from seqlab.gradcheck import numerical_gradient, relative_error

torch.set_num_threads(1)
TOL = dict(rtol=1e-5, atol=1e-5)


def close(ours, theirs):
    torch.testing.assert_close(torch.as_tensor(np.asarray(ours)), theirs.detach(), **TOL)


# Central differences with eps = 1e-5: attention's softmax makes some gradient entries ~1e-5, whose
# relative error with eps = 1e-6 is dominated by round-off (1e-10 absolute) rather than by a bug.
EPS = 1e-5


def grads_of(layer, inputs, dout, forward):
    """Relative errors of the analytic gradients of sum(forward() * dout) for each input."""
    loss = lambda: float(np.sum(forward() * dout))
    forward()
    analytic = layer.backward(dout)
    return [relative_error(a, numerical_gradient(loss, x, EPS)) for a, x in zip(analytic, inputs)]


def layer_errors(layer, inputs, forward, seed=0, zero_key_bias=None):
    """Like seqlab.gradcheck.check_layer_gradients, with EPS: ``{"input0": err, ..., name: err}``.

    zero_key_bias: (name, D) of an attention layer's b_in. The key bias adds q . b_k to every score
    of a query alike, which the softmax ignores: its gradient is exactly zero, and the numerical one
    is round-off, so that block is checked absolutely and the query and value blocks relatively.
    """
    dout = np.random.default_rng(seed).standard_normal(np.shape(forward()))
    loss = lambda: float(np.sum(forward() * dout))
    forward()
    dinputs = layer.backward(dout)
    dinputs = dinputs if isinstance(dinputs, tuple) else (dinputs,)
    analytic = [g.copy() for g in layer.grads]
    errors = {f"input{i}": relative_error(d, numerical_gradient(loss, x, EPS)) for i, (x, d) in enumerate(zip(inputs, dinputs))}
    for name, p, g in zip(layer.param_names, layer.params, analytic):
        numeric = numerical_gradient(loss, p, EPS)
        if zero_key_bias and name == zero_key_bias[0]:
            D = zero_key_bias[1]
            assert np.abs(g[D:2 * D]).max() < 1e-12 and np.abs(numeric[D:2 * D]).max() < 1e-8
            g, numeric = np.delete(g, np.s_[D:2 * D]), np.delete(numeric, np.s_[D:2 * D])
        errors[name] = relative_error(g, numeric)
    return errors


def test_masked_softmax_rows_sum_to_one_and_fully_masked_row_is_zero():
    scores = np.random.default_rng(0).standard_normal((2, 4))
    mask = np.array([[True, True, False, True], [False] * 4])
    weights = masked_softmax(scores, mask)
    assert np.isclose(weights[0].sum(), 1) and weights[0, 2] == 0
    assert np.all(weights[1] == 0)
    np.testing.assert_allclose(masked_softmax(scores), torch.softmax(torch.from_numpy(scores), -1).numpy(), rtol=1e-12)


def test_mask_errors_name_the_fix():
    with pytest.raises(TypeError, match="boolean"):
        masked_softmax(np.zeros((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="does not broadcast"):
        masked_softmax(np.zeros((2, 3)), np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="lengths"):
        padding_mask([1, 5], 4)


def test_padding_and_causal_masks():
    np.testing.assert_array_equal(padding_mask([2, 0], 3), [[True, True, False], [False, False, False]])
    np.testing.assert_array_equal(causal_mask(3), np.tril(np.ones((3, 3), bool)))
    assert causal_mask(2, 3).shape == (2, 3)


def test_attention_weight_and_weight_sum_gradients():
    rng = np.random.default_rng(1)
    N, T, H = 3, 5, 4
    hs, h = rng.standard_normal((N, T, H)), rng.standard_normal((N, H))
    mask = padding_mask([5, 3, 1], T)
    layer = AttentionWeight()
    errors = grads_of(layer, [hs, h], rng.standard_normal((N, T)), lambda: layer.forward(hs, h, mask))
    assert max(errors) <= 1e-7, errors
    a = masked_softmax(rng.standard_normal((N, T)))
    layer = WeightSum()
    errors = grads_of(layer, [hs, a], rng.standard_normal((N, H)), lambda: layer.forward(hs, a))
    assert max(errors) <= 1e-7, errors
    layer = Attention()
    errors = grads_of(layer, [hs, h], rng.standard_normal((N, H)), lambda: layer.forward(hs, h))
    assert max(errors) <= 1e-7, errors
    assert layer.attention_weight.shape == (N, T)


def test_time_attention_equals_attention_step_by_step_and_gradients():
    rng = np.random.default_rng(2)
    N, T, Tq, H = 2, 5, 3, 4
    hs_enc, hs_dec = rng.standard_normal((N, T, H)), rng.standard_normal((N, Tq, H))
    mask = padding_mask([5, 2], T)
    layer = TimeAttention()
    cs = layer.forward(hs_enc, hs_dec, mask)
    step = Attention()
    for t in range(Tq):
        np.testing.assert_allclose(cs[:, t], step.forward(hs_enc, hs_dec[:, t], mask), rtol=1e-12)
        np.testing.assert_allclose(layer.attention_weights[:, t], step.attention_weight, rtol=1e-12)
    errors = grads_of(layer, [hs_enc, hs_dec], rng.standard_normal((N, Tq, H)), lambda: layer.forward(hs_enc, hs_dec, mask))
    assert max(errors) <= 1e-6, errors
    with pytest.raises(ValueError, match="hs_enc"):
        layer.forward(hs_enc, hs_dec[..., :2])


@pytest.mark.parametrize("case", ["none", "padding", "causal", "fully_masked_row"])
def test_scaled_dot_product_attention_matches_torch(case):
    rng = np.random.default_rng(3)
    N, heads, Tq, Tk, d, dv = 2, 3, 4, 4, 5, 6
    q, k = rng.standard_normal((2, N, heads, Tq, d)).astype(np.float32)
    v = rng.standard_normal((N, heads, Tk, dv)).astype(np.float32)
    mask, is_causal = None, False
    if case == "padding":
        mask = padding_mask([4, 2], Tk)[:, None, None, :]
    elif case == "causal":
        is_causal = True
    elif case == "fully_masked_row":
        mask = np.ones((N, heads, Tq, Tk), bool)
        mask[0, 1, 2] = False
    out, cache = scaled_dot_product_attention(q, k, v, mask, is_causal=is_causal)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dq, dk, dv_ = scaled_dot_product_attention_backward(dout, cache)
    tq, tk, tv = (to_torch(x, requires_grad=True) for x in (q, k, v))
    t_out = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=None if mask is None else torch.from_numpy(mask),
                                           is_causal=is_causal)
    t_out.backward(to_torch(dout))
    for ours, theirs in ((out, t_out), (dq, tq.grad), (dk, tk.grad), (dv_, tv.grad)):
        close(ours, theirs)
    if case == "fully_masked_row":
        assert np.all(out[0, 1, 2] == 0) and np.all(cache[3][0, 1, 2] == 0) and np.all(dq[0, 1, 2] == 0)


def test_scaled_dot_product_attention_gradient_check():
    rng = np.random.default_rng(4)
    q, k, v = (rng.standard_normal((2, 3, 4)) for _ in range(3))
    mask = causal_mask(3, 3)
    dout = rng.standard_normal((2, 3, 4))
    loss = lambda: float(np.sum(scaled_dot_product_attention(q, k, v, mask)[0] * dout))
    _, cache = scaled_dot_product_attention(q, k, v, mask)
    for analytic, x in zip(scaled_dot_product_attention_backward(dout, cache), (q, k, v)):
        assert relative_error(analytic, numerical_gradient(loss, x, EPS)) <= 1e-7


def test_multi_head_attention_gradients_self_and_cross():
    rng = np.random.default_rng(5)
    N, Tq, Tk, D, heads = 2, 3, 4, 6, 2
    layer = MultiHeadAttention.init(D, heads, rng, dtype=np.float64)
    layer.params[1][...] = rng.standard_normal(3 * D)  # non-zero biases, to check their gradients
    x = rng.standard_normal((N, Tq, D))
    mask = causal_mask(Tq)
    errors = layer_errors(layer, [x], forward=lambda: layer.forward(x, mask=mask), zero_key_bias=("b_in", D))
    assert max(errors.values()) <= 1e-6, errors
    query, key, value = rng.standard_normal((N, Tq, D)), rng.standard_normal((N, Tk, D)), rng.standard_normal((N, Tk, D))
    pad = padding_mask([4, 2], Tk)[:, None, None, :]
    errors = layer_errors(layer, [query, key, value], forward=lambda: layer.forward(query, key, value, pad),
                          zero_key_bias=("b_in", D))
    assert max(errors.values()) <= 1e-6, errors


@pytest.mark.parametrize("self_attention", [True, False])
def test_multi_head_attention_matches_torch(self_attention):
    rng = np.random.default_rng(6)
    N, Tq, Tk, D, heads = 2, 3, 5, 8, 4
    ours = MultiHeadAttention.init(D, heads, rng)
    ours.params[1][...] = rng.standard_normal(3 * D).astype(np.float32) * 0.1
    theirs = mha_to_torch(ours)
    pad = padding_mask([5, 3], Tk)
    if self_attention:
        x = rng.standard_normal((N, Tk, D)).astype(np.float32)
        out = ours.forward(x, mask=pad[:, None, None, :])
        tx = to_torch(x, requires_grad=True)
        t_out, t_weights = theirs(tx, tx, tx, key_padding_mask=torch_masks(pad))
        inputs, t_inputs = [x], [tx]
    else:
        query = rng.standard_normal((N, Tq, D)).astype(np.float32)
        key, value = rng.standard_normal((2, N, Tk, D)).astype(np.float32)
        out = ours.forward(query, key, value, pad[:, None, None, :])
        inputs = [query, key, value]
        t_inputs = [to_torch(a, requires_grad=True) for a in inputs]
        t_out, t_weights = theirs(*t_inputs, key_padding_mask=torch_masks(pad))
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dinputs = ours.backward(dout)
    dinputs = dinputs if isinstance(dinputs, tuple) else (dinputs,)
    t_out.backward(to_torch(dout))
    close(out, t_out)
    close(ours.attention_weights, t_weights)
    for d, t in zip(dinputs, t_inputs):
        close(d, t.grad)
    for g, t_g in zip(ours.grads, torch_mha_grads_as_numpy(theirs)):
        close(g, torch.from_numpy(np.ascontiguousarray(t_g)))
    back = torch_mha_to_numpy(theirs)
    for p, q in zip(back.params, ours.params):
        np.testing.assert_array_equal(p, q)


def test_multi_head_attention_causal_mask_matches_torch_attn_mask():
    rng = np.random.default_rng(7)
    ours = MultiHeadAttention.init(6, 3, rng)
    x = rng.standard_normal((2, 4, 6)).astype(np.float32)
    t_out, _ = mha_to_torch(ours)(*(to_torch(x),) * 3, attn_mask=torch_masks(causal_mask(4)))
    close(ours.forward(x, mask=causal_mask(4)), t_out)


def test_multi_head_attention_errors():
    with pytest.raises(ValueError, match="multiple of num_heads"):
        MultiHeadAttention.init(6, 4, np.random.default_rng(0))
    layer = MultiHeadAttention.init(6, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="both key and value"):
        layer.forward(np.zeros((1, 2, 6), np.float32), np.zeros((1, 2, 6), np.float32))
    with pytest.raises(ValueError, match=r"query of shape \(N, T, 6\)"):
        layer.forward(np.zeros((1, 2, 5), np.float32))


def test_positional_encoding_values_and_relative_shift():
    pe = positional_encoding(50, 16, dtype=np.float64)
    assert pe.shape == (50, 16) and pe.dtype == np.float64
    np.testing.assert_allclose(pe[0], np.tile([0.0, 1.0], 8))
    np.testing.assert_allclose(pe[3, :2], [np.sin(3), np.cos(3)])
    # PE[t + k] is a rotation of PE[t], the same for every t: check one frequency pair.
    omega = 1 / 10000 ** (2 / 16)
    k = 5
    rotation = np.array([[np.cos(k * omega), np.sin(k * omega)], [-np.sin(k * omega), np.cos(k * omega)]])  # acts on (sin, cos)
    for t in (0, 7, 30):
        np.testing.assert_allclose(rotation @ pe[t, 2:4], pe[t + k, 2:4], atol=1e-12)
    with pytest.raises(ValueError, match="even"):
        positional_encoding(4, 5)


def test_layer_norm_gradients_and_torch():
    rng = np.random.default_rng(8)
    norm = LayerNorm(rng.standard_normal(5), rng.standard_normal(5))
    x = rng.standard_normal((2, 3, 5))
    errors = layer_errors(norm, [x], forward=lambda: norm.forward(x))
    assert max(errors.values()) <= 1e-7, errors
    norm32 = LayerNorm(*(p.astype(np.float32) for p in norm.params))
    x32 = x.astype(np.float32)
    tx = to_torch(x32, requires_grad=True)
    t_norm = layer_norm_to_torch(norm32)
    t_out = t_norm(tx)
    dout = rng.standard_normal(x.shape).astype(np.float32)
    t_out.backward(to_torch(dout))
    close(norm32.forward(x32), t_out)
    close(norm32.backward(dout), tx.grad)
    close(norm32.grads[0], t_norm.weight.grad)


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_block_gradients(norm_first):
    rng = np.random.default_rng(9)
    block = TransformerEncoderBlock.init(4, 2, 6, rng, norm_first=norm_first, dtype=np.float64)
    for p in block.params:  # move the norms and biases off their initial 1 and 0
        p += 0.1 * rng.standard_normal(p.shape)
    x = rng.standard_normal((2, 3, 4))
    mask = padding_mask([3, 2], 3)[:, None, None, :]
    errors = layer_errors(block, [x], forward=lambda: block.forward(x, mask), zero_key_bias=("attention.b_in", 4))
    assert max(errors.values()) <= 1e-6, errors


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_block_matches_torch_encoder_layer(norm_first):
    rng = np.random.default_rng(10)
    N, T, D, heads, d_ff = 2, 5, 8, 2, 16
    ours = TransformerEncoderBlock.init(D, heads, d_ff, rng, norm_first=norm_first)
    for p in ours.params:
        p += (0.1 * rng.standard_normal(p.shape)).astype(np.float32)
    theirs = transformer_block_to_torch(ours)
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    pad = padding_mask([5, 3], T)
    out = ours.forward(x, pad[:, None, None, :])
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx = ours.backward(dout)
    tx = to_torch(x, requires_grad=True)
    t_out = theirs(tx, src_key_padding_mask=torch_masks(pad))
    t_out.backward(to_torch(dout))
    close(out, t_out)
    close(dx, tx.grad)
    for name, g, t_g in zip(ours.param_names, ours.grads, torch_transformer_block_grads_as_numpy(theirs), strict=True):
        close(g, torch.from_numpy(np.ascontiguousarray(t_g)))
    back = torch_transformer_block_to_numpy(theirs)
    assert back.norm_first == norm_first
    for p, q in zip(back.params, ours.params, strict=True):
        np.testing.assert_array_equal(p, q)
