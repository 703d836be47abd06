"""Seq2seq: gradient checks of every part, agreement with PyTorch, greedy decoding, and a short training run."""
import numpy as np
import pytest
import torch

from seqlab.datasets import START_ID, addition_task
from seqlab.generate import beam_search
from seqlab.gradcheck import numerical_gradient
from seqlab.seq2seq import (Decoder, Encoder, PeekyDecoder, PeekySeq2seq, Seq2seq, exact_match_accuracy,
                            train_and_score, train_seq2seq)
from seqlab.convert import seq2seq_to_torch, torch_seq2seq_grads_as_numpy
from seqlab.seq2seq_torch import TorchSeq2seq, torch_exact_match_accuracy, train_and_score_in_torch, train_torch_seq2seq

V, D, H, N, T_IN, T = 9, 4, 5, 3, 6, 4


def gradient_errors(layer, forward, inputs=(), eps=1e-5):
    """Relative errors ``||a - n|| / max(||a||, ||n||)`` of ``layer.backward`` (a) against central
    differences (n) of ``sum(forward() * r)``, per parameter and input.

    Whole-array norms rather than ``relative_error``'s largest entry: a sequence model has gradient
    entries near 1e-5 whose finite differences are mostly round-off, which an entrywise ratio
    would report as an error of the backward pass.
    """
    r = np.random.default_rng(0).standard_normal(np.shape(forward()))
    dinputs = layer.backward(r)
    dinputs = () if dinputs is None else (dinputs,)
    analytic = [g.copy() for g in layer.grads] + [np.copy(d) for d in dinputs]
    loss = lambda: float(np.sum(forward() * r))  # noqa: E731
    errors = {}
    for name, a, x in zip(list(layer.param_names) + ["input"], analytic, list(layer.params) + list(inputs)):
        n = numerical_gradient(loss, x, eps)
        errors[name] = float(np.linalg.norm(a - n) / max(np.linalg.norm(a), np.linalg.norm(n), 1e-300))
    return errors


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    return rng.integers(0, V, (N, T_IN)), rng.integers(0, V, (N, T)), rng.standard_normal((N, H))


def test_encoder_returns_every_hidden_state_and_passes_a_gradient_check(batch):
    xs, _, _ = batch
    encoder = Encoder.init(V, D, H, np.random.default_rng(1), dtype=np.float64)
    hs = encoder.forward(xs)
    assert hs.shape == (N, T_IN, H)
    errors = gradient_errors(encoder, lambda: encoder.forward(xs))
    assert max(errors.values()) <= 1e-6, errors


@pytest.mark.parametrize("cls", [Decoder, PeekyDecoder])
def test_decoders_pass_a_gradient_check_including_dh(cls, batch):
    _, ts, h = batch
    decoder = cls.init(V, D, H, np.random.default_rng(2), dtype=np.float64)
    assert decoder.forward(ts, h).shape == (N, T, V)
    errors = gradient_errors(decoder, lambda: decoder.forward(ts, h), [h])
    assert set(errors) == set(decoder.param_names) | {"input"}
    assert max(errors.values()) <= 1e-6, errors


def test_peeky_decoder_depends_on_h_at_every_step_and_the_plain_one_only_through_the_state(batch):
    _, ts, h = batch
    for cls in (Decoder, PeekyDecoder):
        decoder = cls.init(V, D, H, np.random.default_rng(3))
        scores = decoder.forward(ts, h.astype(np.float32))
        dh = decoder.backward(np.ones_like(scores))
        assert dh.shape == (N, H) and np.abs(dh).max() > 0
    peeky = PeekyDecoder.init(V, D, H, np.random.default_rng(3), dtype=np.float64)
    W_out, _ = peeky.affine.params
    W_out[:H] = 0  # the output reads h_enc only: scores must then move with h even with Wh, Wx fixed
    a = peeky.forward(ts, h)
    b = peeky.forward(ts, h + 1.0)
    assert not np.allclose(a[:, -1], b[:, -1])


@pytest.mark.parametrize("cls", [Seq2seq, PeekySeq2seq])
def test_numpy_and_torch_agree_on_loss_gradients_and_greedy_answers(cls):
    rng = np.random.default_rng(4)
    model = cls.init(13, 6, 7, rng=5)
    xs, ts = rng.integers(0, 13, (8, 7)), rng.integers(0, 13, (8, 5))
    loss = model.forward(xs, ts)
    model.backward()
    module = seq2seq_to_torch(model)
    assert isinstance(module, TorchSeq2seq) and module.peeky == (cls is PeekySeq2seq)
    torch_loss = module(torch.from_numpy(xs), torch.from_numpy(ts))
    torch_loss.backward()
    torch.testing.assert_close(torch.tensor(loss), torch_loss.detach(), rtol=1e-5, atol=1e-5)
    theirs = torch_seq2seq_grads_as_numpy(module)
    assert len(theirs) == len(model.grads) == len(model.param_names)
    for name, ours, t in zip(model.param_names, model.grads, theirs):
        torch.testing.assert_close(torch.from_numpy(ours), torch.from_numpy(t), rtol=1e-5, atol=1e-5, msg=name)
    np.testing.assert_array_equal(model.generate(xs, START_ID, 4),
                                  module.generate(torch.from_numpy(xs), START_ID, 4).numpy())


@pytest.mark.parametrize("cls", [Seq2seq, PeekySeq2seq])
def test_whole_model_gradients_match_torch_in_float64(cls):
    """The wiring (dh into the encoder's last step only) at float64 precision, where the
    elementwise finite-difference check of the mean loss is dominated by round-off."""
    rng = np.random.default_rng(6)
    model = cls.init(7, 3, 4, rng=1, dtype=np.float64)
    xs, ts = rng.integers(0, 7, (3, 5)), rng.integers(0, 7, (3, 4))
    model.forward(xs, ts)
    model.backward()
    module = seq2seq_to_torch(model)
    module(torch.from_numpy(xs), torch.from_numpy(ts)).backward()
    for name, ours, theirs in zip(model.param_names, model.grads, torch_seq2seq_grads_as_numpy(module)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12, err_msg=name)


def test_decoder_step_matches_the_teacher_forced_forward():
    rng = np.random.default_rng(8)
    for cls in (Decoder, PeekyDecoder):
        decoder = cls.init(V, D, H, np.random.default_rng(9), dtype=np.float64)
        ts, h = rng.integers(0, V, (N, T)), rng.standard_normal((N, H))
        scores = decoder.forward(ts, h)
        state = decoder.initial_state(h)
        for t in range(T):
            log_probs, state = decoder.step(ts[:, t], state)
            expected = scores[:, t] - np.log(np.exp(scores[:, t]).sum(axis=1, keepdims=True))
            np.testing.assert_allclose(log_probs, expected, rtol=1e-10, atol=1e-12)


def test_beam_width_one_is_greedy_decoding():
    model = PeekySeq2seq.init(13, 6, 8, rng=2)
    xs = np.random.default_rng(3).integers(0, 13, (4, 7))
    greedy = model.generate(xs, START_ID, 4)
    h = model.encoder.forward(xs)[:, -1]
    beams = beam_search(model.decoder.step, model.decoder.initial_state(h), START_ID, None, beam_width=1, max_len=4)
    assert [b[0].tokens for b in beams] == greedy.tolist()


def test_errors_name_the_input():
    model = Seq2seq.init(5, 2, 3)
    with pytest.raises(ValueError, match="ts must hold START"):
        model.forward(np.zeros((2, 3), np.int64), np.zeros((2, 1), np.int64))
    with pytest.raises(ValueError, match=r"integer token ids of shape \(N, T_in\)"):
        model.forward(np.zeros((2, 3)), np.zeros((2, 3), np.int64))
    with pytest.raises(ValueError, match="D \\+ H"):
        PeekyDecoder(*Decoder.init(5, 2, 3, np.random.default_rng(0)).layers)


def test_a_short_training_run_learns_and_numpy_and_torch_stay_close():
    """Seeded and small: the peeky model on reversed addition, two epochs of 4,000 questions."""
    task = addition_task(4_500, test_fraction=0.1, reverse_input=True, seed=0)
    recipe = dict(epochs=2, batch_size=64, lr=0.01, seed=0)
    model = PeekySeq2seq.init(len(task.vocab), 16, 32, rng=0)
    module = seq2seq_to_torch(model)
    history = train_seq2seq(model, task.xs_train, task.ts_train, progress=False, **recipe)
    torch_history = train_torch_seq2seq(module, task.xs_train, task.ts_train, **recipe)
    assert history.losses[1] < history.losses[0] < np.log(13), "training should bring the loss below log(13), a uniform guess"
    assert abs(history.losses[0] - torch_history.losses[0]) < 1e-2, (history.losses, torch_history.losses)
    numpy_accuracy = exact_match_accuracy(model, task.xs_test, task.ts_test)
    torch_accuracy = torch_exact_match_accuracy(module, task.xs_test, task.ts_test)
    assert 0 <= numpy_accuracy <= 1 and abs(numpy_accuracy - torch_accuracy) <= 0.05


def test_torch_training_in_a_worker_process_matches_training_in_process():
    """Chapter 7 trains its PyTorch column in a spawned worker: the same weights and recipe must
    give the same losses and accuracy there as here, and leave the NumPy model untouched."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    task = addition_task(1_100, test_fraction=0.1, reverse_input=True, seed=1)
    recipe = dict(epochs=1, batch_size=50, lr=0.01, seed=0)
    model = Seq2seq.init(len(task.vocab), 8, 16, rng=0)
    before = [p.copy() for p in model.params]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        remote_accuracy, remote, remote_module = pool.submit(train_and_score_in_torch, model, task.xs_train, task.ts_train,
                                                             task.xs_test, task.ts_test, **recipe).result()
    local_accuracy, local, _ = train_and_score_in_torch(model, task.xs_train, task.ts_train, task.xs_test,
                                                        task.ts_test, **recipe)
    assert remote.losses == pytest.approx(local.losses, rel=1e-6) and remote_accuracy == local_accuracy
    assert remote_accuracy == torch_exact_match_accuracy(remote_module, task.xs_test, task.ts_test)
    assert remote.seconds > 0
    for p, q in zip(model.params, before):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("cls", [Seq2seq, PeekySeq2seq])
def test_forget_bias_sets_only_the_forget_gate_block_of_both_lstms(cls):
    plain, biased = cls.init(13, 4, 6, rng=0), cls.init(13, 4, 6, rng=0, forget_bias=1.0)
    for name, p, q in zip(plain.param_names, plain.params, biased.params, strict=True):
        if name.endswith("lstm.b"):
            np.testing.assert_array_equal(q[6:12], 1.0)
            np.testing.assert_array_equal(np.delete(q, np.s_[6:12]), np.delete(p, np.s_[6:12]))
        else:
            np.testing.assert_array_equal(p, q, err_msg=name)


def test_train_and_score_returns_the_trained_model_and_its_accuracy():
    task = addition_task(1_100, test_fraction=0.1, reverse_input=True, seed=1)
    model = Seq2seq.init(len(task.vocab), 8, 16, rng=0)
    accuracy, history, trained = train_and_score(model, task.xs_train, task.ts_train, task.xs_test, task.ts_test,
                                                 epochs=1, batch_size=50, lr=0.01, seed=0)
    assert trained is model and len(history.losses) == 1 and history.seconds > 0
    assert accuracy == exact_match_accuracy(model, task.xs_test, task.ts_test)


@pytest.mark.parametrize("cls", [Seq2seq, PeekySeq2seq])
def test_dlfs2_initialization_draws_scaled_normals_and_zero_biases(cls):
    V_, D_, H_ = 13, 16, 64
    model = cls.init(V_, D_, H_, rng=0, weights="dlfs2")
    for name, p in zip(model.param_names, model.params, strict=True):
        if name.endswith(".b"):
            np.testing.assert_array_equal(p, 0, err_msg=name)
        elif name.endswith("embed.W"):
            assert 0.007 < p.std() < 0.013, (name, p.std())
        else:  # N(0, 1/fan_in): fan_in is the first axis, D + H for the peeky decoder's Wx, 2H for its affine
            assert abs(p.std() * np.sqrt(p.shape[0]) - 1) < 0.1, (name, p.shape, p.std())
    biased = cls.init(V_, D_, H_, rng=0, weights="dlfs2", forget_bias=1.0)
    np.testing.assert_array_equal(biased.encoder.lstm.params[2][H_:2 * H_], 1.0)
    with pytest.raises(ValueError, match="weights must be"):
        cls.init(V_, D_, H_, weights="xavier")


@pytest.mark.parametrize("schedule", ["linear", "constant"])
def test_both_schedules_agree_between_numpy_and_torch_and_record_every_step(schedule):
    task = addition_task(700, test_fraction=0.1, reverse_input=True, seed=2)
    recipe = dict(epochs=2, batch_size=100, lr=0.01, seed=0, schedule=schedule)
    model = Seq2seq.init(len(task.vocab), 8, 16, rng=0, forget_bias=1.0)
    module = seq2seq_to_torch(model)
    history = train_seq2seq(model, task.xs_train, task.ts_train, progress=False, **recipe)
    torch_history = train_torch_seq2seq(module, task.xs_train, task.ts_train, **recipe)
    num_batches = len(task.xs_train) // 100
    assert len(history.step_losses) == len(torch_history.step_losses) == 2 * num_batches
    assert history.losses[1] == pytest.approx(np.mean(history.step_losses[num_batches:]), rel=1e-6)
    np.testing.assert_allclose(history.step_losses, torch_history.step_losses, rtol=1e-4)


def test_the_schedule_changes_training_and_a_wrong_name_is_refused():
    task = addition_task(700, test_fraction=0.1, seed=3)
    losses = {}
    for schedule in ("linear", "constant"):
        model = Seq2seq.init(len(task.vocab), 8, 16, rng=0)
        losses[schedule] = train_seq2seq(model, task.xs_train, task.ts_train, epochs=1, batch_size=100, lr=0.01,
                                         progress=False, schedule=schedule).step_losses
    assert losses["linear"][:2] == losses["constant"][:2]  # the decay has not yet moved the rate much
    assert losses["linear"][-1] != losses["constant"][-1]
    with pytest.raises(ValueError, match="schedule must be one of"):
        train_seq2seq(Seq2seq.init(13, 2, 3), task.xs_train, task.ts_train, epochs=1, batch_size=100, lr=0.01,
                      progress=False, schedule="cosine")
    with pytest.raises(ValueError, match="schedule must be one of"):
        train_torch_seq2seq(seq2seq_to_torch(Seq2seq.init(13, 2, 3)), task.xs_train, task.ts_train, epochs=1,
                            batch_size=100, lr=0.01, schedule="cosine")
