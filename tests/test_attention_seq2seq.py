"""The attention seq2seq: whole-model gradient checks, greedy decoding, and a short training run."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqlab import attention_seq2seq
from seqlab.attention import TimeAttention
from seqlab.attention_seq2seq import AttentionSeq2seq, exact_match_accuracy, train_seq2seq, train_with_learning_curve
from seqlab.convert import to_torch
from seqlab.datasets import date_task
from seqlab.gradcheck import numerical_gradient
from seqlab.optim import Adam

torch.set_num_threads(1)


VARIANTS = {"attention": {}, "no attention": dict(attention=False), "bidirectional": dict(bidirectional=True),
            "input feeding": dict(input_feeding=True), "residual, 3 layers": dict(num_layers=3),
            "no attention, 2 layers": dict(attention=False, num_layers=2),
            "no attention, peeky": dict(attention=False, peeky=True),
            "no attention, peeky, 2 layers": dict(attention=False, peeky=True, num_layers=2)}


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


@pytest.mark.parametrize("variant", ["no attention", "no attention, peeky", "no attention, peeky, 2 layers"])
def test_generate_without_attention_reproduces_teacher_forced_argmax(variant):
    rng = np.random.default_rng(5)
    V, N, T, Tq = 9, 3, 6, 4
    model = AttentionSeq2seq(V, 4, 5, rng, dtype=np.float64, **VARIANTS[variant])
    xs = rng.integers(0, V, (N, T))
    generated = model.generate(xs, start_id=1, length=Tq)
    assert generated.shape == (N, Tq) and model.attention_weights is None
    ts = np.concatenate([np.ones((N, 1), np.int64), generated], axis=1)
    model.forward(xs, ts)
    scores = model.decoder.affine.x @ model.decoder.affine.params[0] + model.decoder.affine.params[1]
    np.testing.assert_array_equal(scores.argmax(-1), generated)


def test_peeky_decoder_reads_the_encoder_state_at_every_step():
    model = AttentionSeq2seq(7, 3, 4, np.random.default_rng(0), attention=False, peeky=True)
    assert model.decoder.lstm.layers[0].input_size == 3 + 4 and model.decoder.affine.params[0].shape == (8, 7)


def test_variant_errors_name_the_fix():
    with pytest.raises(ValueError, match="needs attention=True"):
        AttentionSeq2seq(5, 2, 3, np.random.default_rng(0), attention=False, input_feeding=True)
    with pytest.raises(ValueError, match="num_layers=1"):
        AttentionSeq2seq(5, 2, 3, np.random.default_rng(0), bidirectional=True, num_layers=2)
    with pytest.raises(ValueError, match="attention=False with peeky=True"):
        AttentionSeq2seq(5, 2, 3, np.random.default_rng(0), peeky=True)


def test_learning_curve_is_seeded_and_scores_at_each_checkpoint():
    task = date_task(700, test_fraction=100 / 700, seed=1)
    args = (len(task.vocab), 8, 16, task.xs_train, task.ts_train, task.xs_test, task.ts_test, task.start_id)
    curve, model = train_with_learning_curve(*args, seed=3, updates=12, checkpoint_every=4, batch_size=32,
                                             keep_model=True)
    assert curve.updates == [4, 8, 12] and len(curve.accuracies) == len(curve.losses) == 3
    assert all(0 <= a <= 1 for a in curve.accuracies) and curve.seconds > 0
    assert curve.losses[-1] < curve.losses[0]
    assert curve.accuracies[-1] == exact_match_accuracy(model, task.xs_test, task.ts_test, task.start_id)
    again, none = train_with_learning_curve(*args, seed=3, updates=12, checkpoint_every=4, batch_size=32)
    assert none is None and again.losses == curve.losses and again.accuracies == curve.accuracies
    with pytest.raises(ValueError, match="multiple of checkpoint_every"):
        train_with_learning_curve(*args, seed=0, updates=10, checkpoint_every=4)


def test_learning_curve_batches_do_not_depend_on_the_model(monkeypatch):
    # Two models of different sizes, one seed: the same batches in the same order, recorded by a spy.
    task = date_task(400, test_fraction=0.1, seed=2)
    step, batches = attention_seq2seq._train_step, []
    monkeypatch.setattr(attention_seq2seq, "_train_step",
                        lambda model, optimizer, xs, ts, clip: batches.append(xs.copy()) or step(model, optimizer, xs, ts, clip))
    for H, options in ((8, {}), (6, dict(bidirectional=True))):
        train_with_learning_curve(len(task.vocab), 4, H, task.xs_train, task.ts_train, task.xs_test[:10],
                                  task.ts_test[:10], task.start_id, seed=7, updates=6, checkpoint_every=6,
                                  batch_size=16, **options)
    np.testing.assert_array_equal(np.stack(batches[:6]), np.stack(batches[6:]))
