"""The attention seq2seq: whole-model gradient checks, greedy decoding, and a short training run."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqlab.attention import TimeAttention
from seqlab.attention_seq2seq import AttentionSeq2seq, exact_match_accuracy, train_seq2seq
from seqlab.convert import to_torch
from seqlab.datasets import date_task
from seqlab.gradcheck import numerical_gradient
from seqlab.optim import Adam

torch.set_num_threads(1)


VARIANTS = {"attention": {}, "no attention": dict(attention=False), "bidirectional": dict(bidirectional=True),
            "input feeding": dict(input_feeding=True), "residual, 3 layers": dict(num_layers=3),
            "no attention, 2 layers": dict(attention=False, num_layers=2)}


@pytest.mark.parametrize("variant", VARIANTS)
def test_whole_model_gradient_check(variant):
    rng = np.random.default_rng(0)
    V, D, H, N, T, Tq = 7, 3, 4, 2, 5, 3
    model = AttentionSeq2seq(V, D, H, rng, dtype=np.float64, **VARIANTS[variant])
    xs, ts = rng.integers(0, V, (N, T)), rng.integers(0, V, (N, Tq + 1))
    loss = lambda: model.forward(xs, ts)
    loss()
    model.backward()
    analytic = [g.copy() for g in model.grads]
    # Norm-wise relative error per parameter: a whole model's mean loss has gradient entries of
    # 1e-7, below what central differences resolve, so the elementwise maximum would measure round-off.
    errors = [np.linalg.norm(g - n) / max(np.linalg.norm(g), np.linalg.norm(n))
              for p, g in zip(model.params, analytic) for n in [numerical_gradient(loss, p, 1e-5)]]
    assert max(errors) <= 1e-6, errors


def test_time_attention_is_unscaled_sdpa_in_torch():
    rng = np.random.default_rng(1)
    hs_enc, hs_dec = rng.standard_normal((2, 5, 4)).astype(np.float32), rng.standard_normal((2, 3, 4)).astype(np.float32)
    layer = TimeAttention()
    cs = layer.forward(hs_enc, hs_dec)
    dcs = rng.standard_normal(cs.shape).astype(np.float32)
    dhs_enc, dhs_dec = layer.backward(dcs)
    t_enc, t_dec = to_torch(hs_enc, requires_grad=True), to_torch(hs_dec, requires_grad=True)
    t_cs = F.scaled_dot_product_attention(t_dec, t_enc, t_enc, scale=1.0)
    t_cs.backward(to_torch(dcs))
    for ours, theirs in ((cs, t_cs), (dhs_enc, t_enc.grad), (dhs_dec, t_dec.grad)):
        torch.testing.assert_close(torch.from_numpy(ours), theirs.detach(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("variant", ["attention", "input feeding", "residual, 3 layers"])
def test_generate_reproduces_teacher_forced_argmax_and_weights(variant):
    rng = np.random.default_rng(2)
    V, N, T, Tq = 9, 3, 6, 4
    model = AttentionSeq2seq(V, 4, 5, rng, dtype=np.float64, **VARIANTS[variant])
    xs = rng.integers(0, V, (N, T))
    generated = model.generate(xs, start_id=1, length=Tq)
    assert generated.shape == (N, Tq) and model.attention_weights.shape == (N, Tq, T)
    np.testing.assert_allclose(model.attention_weights.sum(axis=-1), 1)
    generate_weights = model.attention_weights.copy()
    # Fed its own answers, the teacher-forced forward predicts the same tokens with the same weights.
    ts = np.concatenate([np.ones((N, 1), np.int64), generated], axis=1)
    model.forward(xs, ts)
    scores = model.decoder.affine.x @ model.decoder.affine.params[0] + model.decoder.affine.params[1]
    np.testing.assert_array_equal(scores.argmax(-1), generated)
    np.testing.assert_allclose(model.attention_weights, generate_weights, rtol=1e-10)


def test_variant_errors_name_the_fix():
    with pytest.raises(ValueError, match="needs attention=True"):
        AttentionSeq2seq(5, 2, 3, np.random.default_rng(0), attention=False, input_feeding=True)
    with pytest.raises(ValueError, match="num_layers=1"):
        AttentionSeq2seq(5, 2, 3, np.random.default_rng(0), bidirectional=True, num_layers=2)


def test_attention_learns_dates_quickly_and_beats_the_plain_model():
    task = date_task(6000, test_fraction=0.1, seed=3)
    V = len(task.vocab)
    accuracies = {}
    for attention in (True, False):
        model = AttentionSeq2seq(V, 16, 32, np.random.default_rng(0), attention=attention)
        losses = train_seq2seq(model, Adam(0.01), task.xs_train, task.ts_train, epochs=3, batch_size=64)
        assert losses[-1] < losses[0]
        accuracies[attention] = exact_match_accuracy(model, task.xs_test, task.ts_test, task.start_id)
    assert accuracies[True] > accuracies[False] + 0.1, accuracies
