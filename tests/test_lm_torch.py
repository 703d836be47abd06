"""The torch language models agree with the NumPy ones, train on the same blocks, and learn."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqlab.convert import lm_to_torch, torch_lm_grads_as_numpy
from seqlab.corpora import synthetic_corpus
from seqlab.lm import cosine_lr, evaluate_perplexity, train_lm
from seqlab.lm_torch import SequenceDropout, TorchLM, evaluate_torch_perplexity, train_torch_lm
from seqlab.models import RNNLM, BetterLSTMLM, LSTMLM
from seqlab.optim import Adam

V, D, H, N, T = 11, 5, 6, 3, 7


def assert_close(ours, theirs, what):
    torch.testing.assert_close(torch.from_numpy(np.ascontiguousarray(ours)), torch.from_numpy(np.ascontiguousarray(theirs)),
                               rtol=1e-5, atol=1e-5, msg=lambda m: f"{what}: {m}")


def numpy_models():
    rng = np.random.default_rng(0)
    return {
        "RNNLM": RNNLM(V, D, H, rng),
        "LSTMLM": LSTMLM(V, D, H, rng),
        "BetterLSTMLM tied": BetterLSTMLM(V, H, H, rng, num_layers=2, dropout=0.3, variational=True).eval(),
        "BetterLSTMLM untied": BetterLSTMLM(V, D, H, rng, num_layers=2, dropout=0.3, tie_weights=False).eval(),
    }


@pytest.mark.parametrize("name", list(numpy_models()))
def test_a_torch_lm_with_numpy_weights_gives_the_same_loss_and_gradients_over_two_blocks(name):
    ours = numpy_models()[name]
    theirs = lm_to_torch(ours).eval()  # what TorchLM.from_numpy calls
    assert theirs.num_parameters() == sum(p.size for p in ours.params)
    rng = np.random.default_rng(1)
    state = None
    for block in range(2):  # the second block starts from the state the first one left: truncated BPTT
        xs, ts = rng.integers(0, V, (2, N, T))
        loss = ours.forward(xs, ts)
        ours.backward()
        theirs.zero_grad()
        logits, state = theirs(torch.from_numpy(xs), state)
        t_loss = F.cross_entropy(logits.reshape(-1, V), torch.from_numpy(ts).reshape(-1))
        t_loss.backward()
        state = [tuple(s.detach() for s in layer) if isinstance(layer, tuple) else layer.detach() for layer in state]
        assert_close(np.float32(loss), t_loss.detach().numpy(), f"{name} loss, block {block}")
        t_grads = torch_lm_grads_as_numpy(theirs)
        assert len(t_grads) == len(ours.grads)
        for t_g, method_g in zip(t_grads, theirs.grads_as_numpy(), strict=True):
            np.testing.assert_array_equal(t_g, method_g)
        for param_name, g, t_g in zip(ours.param_names, ours.grads, t_grads, strict=True):
            assert_close(g, t_g, f"{name} d{param_name}, block {block}")


def test_from_numpy_carries_the_settings_over():
    better = BetterLSTMLM(V, H, H, np.random.default_rng(0), num_layers=3, dropout=0.25, variational=True)
    model = TorchLM.from_numpy(better)
    assert (model.cell, len(model.recurrent), model.tie_weights) == ("lstm", 3, True)
    assert all(d.p == 0.25 and d.variational for d in model.dropouts)
    assert model.output.weight is model.embedding.weight
    assert TorchLM.from_numpy(RNNLM(V, D, H, np.random.default_rng(0))).cell == "rnn"
    with pytest.raises(TypeError, match="RNNLM, LSTMLM or BetterLSTMLM"):
        TorchLM.from_numpy(object())


def test_the_arguments_a_user_can_get_wrong_are_named():
    with pytest.raises(ValueError, match="cell must be one of"):
        TorchLM(V, D, H, cell="transformer")
    with pytest.raises(ValueError, match="D == H"):
        TorchLM(V, D, H, tie_weights=True)
    with pytest.raises(ValueError, match=r"\(N, T\)"):
        TorchLM(V, D, H)(torch.zeros(5, dtype=torch.int64))
    with pytest.raises(ValueError, match="too few"):
        train_torch_lm(TorchLM(V, D, H), np.arange(20) % V, batch_size=4, time_size=8, steps=1, lr=0.01)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_the_state_has_each_cells_shape_and_is_carried(cell):
    torch.manual_seed(0)
    model = TorchLM(V, D, H, cell=cell, num_layers=2)
    xs = torch.randint(0, V, (N, 2 * T))
    whole, _ = model(xs)
    first, state = model(xs[:, :T])
    second, _ = model(xs[:, T:], state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole)
    assert len(state) == 2
    for layer_state in state:
        for s in (layer_state if cell == "lstm" else (layer_state,)):
            assert s.shape == (1, N, H)


def test_variational_dropout_keeps_one_mask_per_sequence():
    torch.manual_seed(0)
    out = SequenceDropout(0.5, variational=True)(torch.ones(4, 9, 16))
    assert torch.equal(out, out[:, :1].expand_as(out))  # every step repeats step 0's mask
    assert set(out.unique().tolist()) == {0.0, 2.0}
    fresh = SequenceDropout(0.5)(torch.ones(4, 9, 16))
    assert not torch.equal(fresh, fresh[:, :1].expand_as(fresh))
    assert torch.equal(SequenceDropout(0.5, variational=True).eval()(torch.ones(2, 3, 4)), torch.ones(2, 3, 4))


class RecordingLM(torch.nn.Module):
    """A tiny LM that records the blocks it reads and whether it was given a state."""

    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(V, V)
        self.blocks, self.started_fresh = [], []

    def forward(self, xs, state=None):
        self.blocks.append(xs.numpy().copy())
        self.started_fresh.append(state is None)
        return self.embedding(xs), torch.zeros(())


class RecordingNumpyLM(RNNLM):
    def __init__(self):
        super().__init__(V, 2, 2, np.random.default_rng(0))
        self.blocks, self.resets = [], 0

    def forward(self, xs, ts):
        self.blocks.append(np.asarray(xs).copy())
        return super().forward(xs, ts)

    def reset_state(self):
        self.resets += 1
        super().reset_state()


def test_the_training_loop_reads_the_same_blocks_as_train_lm():
    ids = np.random.default_rng(2).integers(0, V, 200)
    steps = 13  # 200 tokens give 4 or 5 blocks of 4 x 8 per epoch: several epochs, each with its own random shift
    ours, theirs = RecordingNumpyLM(), RecordingLM()
    train_lm(ours, Adam(0.01), ids, batch_size=4, time_size=8, max_steps=steps, rng=np.random.default_rng(1), progress=False)
    history = train_torch_lm(theirs, ids, batch_size=4, time_size=8, steps=steps, lr=0.01,
                             rng=np.random.default_rng(1), device="cpu", progress=False)
    assert len(theirs.blocks) == len(ours.blocks) == history.total_steps == steps
    for step, (a, b) in enumerate(zip(ours.blocks, theirs.blocks)):
        np.testing.assert_array_equal(a, b, err_msg=f"step {step} read a different block")
    assert sum(theirs.started_fresh) == ours.resets >= 3  # one fresh state per epoch, as train_lm resets


def test_the_learning_rate_follows_the_cosine_schedule_and_adam_matches_ours():
    """Three steps of the NumPy and torch RNN LMs from the same weights: Adam, cosine_lr, same result."""
    corpus_ids = np.random.default_rng(3).integers(0, V, 400)
    ours = RNNLM(V, D, H, np.random.default_rng(0))
    theirs = TorchLM.from_numpy(ours)
    train_lm(ours, Adam(0.05), corpus_ids, batch_size=4, time_size=8, max_steps=3, lr_schedule=cosine_lr(0.05, 3),
             rng=np.random.default_rng(1), progress=False)
    train_torch_lm(theirs, corpus_ids, batch_size=4, time_size=8, steps=3, lr=0.05, rng=np.random.default_rng(1),
                   device="cpu", progress=False)
    for name, ours_param, theirs_param in [("embedding.W", ours.embedding.params[0], theirs.embedding.weight),
                                           ("rnn.Wh", ours.rnn.params[1], theirs.recurrent[0].weight_hh_l0.T),
                                           ("rnn.b", ours.rnn.params[2], theirs.recurrent[0].bias_ih_l0 + theirs.recurrent[0].bias_hh_l0),
                                           ("output.b", ours.output.params[1], theirs.output.bias)]:
        assert_close(ours_param, theirs_param.detach().numpy(), f"{name} after 3 steps")


def test_the_redundant_biases_stay_zero_and_a_grus_b_hn_trains():
    torch.manual_seed(0)
    for cell in ("lstm", "gru"):
        model = TorchLM(V, D, H, cell=cell)
        train_torch_lm(model, np.arange(300) % V, batch_size=4, time_size=8, steps=3, lr=0.1, device="cpu", progress=False)
        bias_hh = model.recurrent[0].bias_hh_l0.detach()
        redundant = bias_hh if cell == "lstm" else bias_hh[: 2 * H]
        assert torch.count_nonzero(redundant) == 0, f"{cell}: the part of bias_hh that duplicates bias_ih moved"
        if cell == "gru":
            assert torch.count_nonzero(bias_hh[2 * H:]) == H  # b_hn is a parameter of its own
    gru_numpy_count = 11 * 5 + (5 * 18 + 6 * 18 + 18 + 6) + (6 * 11 + 11)  # embedding, Wx Wh b b_hn, output
    assert TorchLM(V, D, H, cell="gru").num_parameters() == gru_numpy_count


def test_evaluation_is_evaluate_perplexity_on_the_same_weights():
    ids = synthetic_corpus(n_train=2000, n_valid=500, n_test=700, seed=0).test
    ours = LSTMLM(59, 8, 8, np.random.default_rng(0))
    theirs = TorchLM.from_numpy(ours).train()
    expected = evaluate_perplexity(ours, ids, batch_size=5, time_size=9)  # a tail block too: 699 // 5 = 139 = 15 * 9 + 4
    assert evaluate_torch_perplexity(theirs, ids, batch_size=5, time_size=9) == pytest.approx(expected, rel=1e-5)
    assert theirs.training  # the mode is restored


def test_a_short_run_lowers_the_perplexity():
    corpus = synthetic_corpus(n_train=20_000, n_valid=1000, n_test=2000, seed=0)
    V_corpus = len(corpus.vocab)
    torch.manual_seed(0)
    model = TorchLM(V_corpus, 16, 16, cell="gru")
    before = evaluate_torch_perplexity(model, corpus.test, batch_size=8, time_size=16)
    history = train_torch_lm(model, corpus.train, batch_size=16, time_size=16, steps=60, lr=0.02,
                             rng=np.random.default_rng(1), device="cpu", progress=False)
    after = evaluate_torch_perplexity(model, corpus.test, batch_size=8, time_size=16)
    assert after < 0.5 * before and after < 12, f"perplexity {before:.1f} -> {after:.1f} after 60 steps"
    assert np.mean(history.losses[-10:]) < np.mean(history.losses[:10])
