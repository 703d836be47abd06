"""Perplexity, n-gram baselines, the truncated-BPTT layout, evaluation and the training loop."""
import math
from collections import Counter

import numpy as np
import pytest

from seqlab.corpora import synthetic_corpus
from seqlab.lm import (
    NGramLM,
    best_add_k,
    bptt_batches,
    bptt_index_layout,
    cosine_lr,
    evaluate_perplexity,
    perplexity,
    train_lm,
)
from seqlab.models import RNNLM
from seqlab.optim import Adam


def test_perplexity_is_the_exponential_of_the_cross_entropy():
    assert perplexity(0.0) == 1.0
    assert perplexity(math.log(59)) == pytest.approx(59)


# -- n-gram baselines ---------------------------------------------------------------------------------

TINY = np.array([0, 1, 2, 1, 2, 3, 1, 2, 0, 1])  # V = 5: token 4 never occurs


def test_bigram_matches_direct_counting():
    V, k = 5, 0.5
    model = NGramLM(2, V, k).fit(TINY)
    pairs = Counter(zip(TINY[:-1].tolist(), TINY[1:].tolist()))
    contexts = Counter(TINY[:-1].tolist())

    def p(w, c):
        return (pairs[c, w] + k) / (contexts[c] + k * V)

    test = np.array([1, 2, 3, 4, 1, 0])
    expected = -np.mean([math.log(p(w, c)) for c, w in zip(test[:-1].tolist(), test[1:].tolist())])
    assert model.cross_entropy(test) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(model.next_token_probs([1]), [p(w, 1) for w in range(V)], rtol=1e-12)
    np.testing.assert_allclose(model.next_token_probs([4]), np.full(V, 1 / V))  # unseen context: uniform
    assert model.perplexity(test) == pytest.approx(math.exp(expected))


def test_unigram_matches_direct_counting_on_the_targets():
    V, k = 5, 0.1
    model = NGramLM(1, V, k).fit(TINY)
    counts = Counter(TINY[1:].tolist())  # the targets ids[1:], as for an RNN
    test = np.array([2, 1, 4])
    expected = -np.mean([math.log((counts[w] + k) / (len(TINY) - 1 + k * V)) for w in (1, 4)])
    assert model.cross_entropy(test) == pytest.approx(expected, rel=1e-12)
    assert model.next_token_probs([]).sum() == pytest.approx(1.0)


def test_trigram_pads_contexts_before_the_stream_start():
    model = NGramLM(3, 5, k=1e-9).fit(np.array([0, 1, 2, 0, 1, 2]))
    # The first target (1) follows (start, 0) in training, so it is near certain there again.
    assert model.cross_entropy(np.array([0, 1, 2])) == pytest.approx(0.0, abs=1e-6)


def test_best_add_k_minimizes_the_validation_cross_entropy():
    corpus = synthetic_corpus(n_train=3000, n_valid=2000, n_test=2, seed=0)
    V = len(corpus.vocab)
    candidates = [1e-3, 1e-2, 1e-1, 1.0]
    k = best_add_k(2, corpus.train, corpus.valid, V, candidates)
    losses = [NGramLM(2, V, c).fit(corpus.train).cross_entropy(corpus.valid) for c in candidates]
    assert k == candidates[int(np.argmin(losses))]
    assert len(set(np.round(losses, 6))) == len(losses)  # the choice is not a tie


def test_ngram_errors_name_the_fix():
    with pytest.raises(ValueError, match="order"):
        NGramLM(0, 5)
    with pytest.raises(ValueError, match="k"):
        NGramLM(2, 5, k=0)
    with pytest.raises(RuntimeError, match="fit"):
        NGramLM(2, 5).cross_entropy(TINY)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        NGramLM(2, 3).fit(TINY)
    with pytest.raises(ValueError, match="at least 2"):
        NGramLM(2, 5).fit(np.array([1]))


# -- truncated BPTT -----------------------------------------------------------------------------------

@pytest.mark.parametrize("n_tokens, N, T", [(20, 2, 3), (101, 4, 5), (64, 1, 7), (33, 8, 4)])
def test_layout_rows_continue_themselves_block_after_block(n_tokens, N, T):
    layout = bptt_index_layout(n_tokens, N, T)
    jump = (n_tokens - 1) // N
    assert layout.shape == (jump // T, N, T)
    np.testing.assert_array_equal(layout[0, :, 0], np.arange(N) * jump)  # row n starts at n * jump
    np.testing.assert_array_equal(np.diff(layout, axis=2), 1)  # each block reads consecutive positions
    np.testing.assert_array_equal(layout[1:, :, 0], layout[:-1, :, -1] + 1)  # block b+1 continues block b, row by row
    assert len(np.unique(layout)) == layout.size and layout.max() + 1 <= n_tokens - 1  # no overlap; ts in range
    ids = np.arange(n_tokens) * 10
    for (xs, ts), positions in zip(bptt_batches(ids, N, T), layout, strict=True):
        np.testing.assert_array_equal(xs, ids[positions])
        np.testing.assert_array_equal(ts, ids[positions + 1])


def test_the_chapters_twenty_token_layout():
    np.testing.assert_array_equal(bptt_index_layout(20, 2, 3)[:, 1], [[9, 10, 11], [12, 13, 14], [15, 16, 17]])


def test_layout_errors_say_how_long_the_stream_must_be():
    with pytest.raises(ValueError, match="at least batch_size \\* time_size \\+ 1 = 13"):
        bptt_index_layout(12, 3, 4)
    with pytest.raises(ValueError, match="batch_size"):
        bptt_index_layout(12, 0, 4)
    with pytest.raises(ValueError, match="ids must be a stream"):
        bptt_batches(np.zeros((2, 5), dtype=int), 1, 2)


# -- evaluation ---------------------------------------------------------------------------------------

def whole_stream_perplexity(model, ids):
    model.reset_state()
    return math.exp(model.forward(ids[None, :-1], ids[None, 1:]))


def test_evaluate_perplexity_equals_one_pass_over_the_whole_stream():
    rng = np.random.default_rng(0)
    model = RNNLM(7, 3, 5, rng, dtype=np.float64)
    ids = rng.integers(0, 7, 41)
    whole = whole_stream_perplexity(model, ids)
    assert evaluate_perplexity(model, ids, batch_size=1, time_size=40) == pytest.approx(whole, rel=1e-12)
    # Blocks of 6 (six full ones and a tail of 4) carry the state, so they score the same targets identically.
    assert evaluate_perplexity(model, ids, batch_size=1, time_size=6) == pytest.approx(whole, rel=1e-12)
    assert evaluate_perplexity(model, ids, batch_size=1, time_size=100) == pytest.approx(whole, rel=1e-12)


def test_evaluate_perplexity_weights_rows_and_the_tail_by_their_tokens():
    rng = np.random.default_rng(1)
    model = RNNLM(7, 3, 5, rng, dtype=np.float64)
    ids = rng.integers(0, 7, 24)  # N = 2 rows of jump = 11 targets: one block of 8, a tail of 3
    rows = [ids[0:12], ids[11:23]]
    nll = sum(math.log(whole_stream_perplexity(model, row)) * 11 for row in rows) / 22
    assert evaluate_perplexity(model, ids, batch_size=2, time_size=8) == pytest.approx(math.exp(nll), rel=1e-12)
    assert model.rnn.h0 is None  # the state is reset afterwards
    with pytest.raises(ValueError, match="lower batch_size"):
        evaluate_perplexity(model, ids[:3], batch_size=4, time_size=2)


# -- training -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_corpus():
    return synthetic_corpus(n_train=20_000, n_valid=2_000, n_test=2_000, seed=0)


def train_small(corpus, steps=150, **kwargs):
    model = RNNLM(len(corpus.vocab), 16, 32, np.random.default_rng(0))
    history = train_lm(model, Adam(0.02), corpus.train, batch_size=16, time_size=8, max_steps=steps,
                       valid_ids=corpus.valid, eval_every=50, rng=np.random.default_rng(1), **kwargs)
    return model, history


def test_training_lowers_the_validation_perplexity(small_corpus):
    untrained = RNNLM(len(small_corpus.vocab), 16, 32, np.random.default_rng(0))
    before = evaluate_perplexity(untrained, small_corpus.valid, 16, 8)
    model, history = train_small(small_corpus, max_grad_norm=5.0, lr_schedule=cosine_lr(0.02, 150))
    assert history.steps == [50, 100, 150] and history.total_steps == 150 and len(history.seconds) == 3
    assert len(history.valid_perplexity) == 3 and len(history.train_perplexity) == 3
    assert history.epochs == 0  # 150 steps of the 156 blocks of one epoch
    assert before > 40 and history.valid_perplexity[-1] < 8, (before, history.valid_perplexity)
    assert history.valid_perplexity[-1] < history.valid_perplexity[0]
    assert history.valid_perplexity[-1] == pytest.approx(evaluate_perplexity(model, small_corpus.valid, 16, 8), rel=1e-6)


def test_training_is_deterministic_and_stops_where_asked(small_corpus):
    _, first = train_small(small_corpus, steps=60)
    _, second = train_small(small_corpus, steps=60)
    assert first.losses == second.losses and first.valid_perplexity == second.valid_perplexity
    assert first.steps == [50, 60]  # an evaluation point at the end too
    model = RNNLM(len(small_corpus.vocab), 8, 8, np.random.default_rng(0))
    by_epochs = train_lm(model, Adam(0.01), small_corpus.train[:1001], batch_size=10, time_size=10, max_epochs=2,
                         progress=False)
    assert by_epochs.epochs == 2 and by_epochs.total_steps == 2 * 10 and by_epochs.valid_perplexity == []


def test_train_lm_errors_name_the_argument(small_corpus):
    model = RNNLM(len(small_corpus.vocab), 8, 8, np.random.default_rng(0))
    with pytest.raises(ValueError, match="max_steps"):
        train_lm(model, Adam(), small_corpus.train, batch_size=4, time_size=4)
    with pytest.raises(ValueError, match="eval_every"):
        train_lm(model, Adam(), small_corpus.train, batch_size=4, time_size=4, max_steps=1, eval_every=0)
    with pytest.raises(ValueError, match="lower batch_size or time_size"):
        train_lm(model, Adam(), small_corpus.train[:50], batch_size=8, time_size=8, max_steps=1)


def test_cosine_lr_falls_from_peak_to_final():
    schedule = cosine_lr(0.1, 100, final_lr=0.01)
    assert schedule(0) == pytest.approx(0.1) and schedule(100) == pytest.approx(0.01)
    assert schedule(50) == pytest.approx(0.055) and schedule(500) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="final_lr"):
        cosine_lr(0.1, 100, final_lr=0.2)


class RecordingModel:
    """A stand-in with the model interface that records what train_lm asks of it."""

    def __init__(self):
        self.params, self.grads = [np.zeros(3)], [np.zeros(3)]
        self.events = []

    def reset_state(self):
        self.events.append("reset")

    def forward(self, xs, ts):
        self.events.append(("forward", xs.copy(), ts.copy()))
        return 1.0

    def backward(self):
        self.events.append("backward")
        self.grads[0][...] = [30.0, 40.0, 0.0]  # global norm 50


class RecordingOptimizer:
    def __init__(self):
        self.lr, self.seen = 0.0, []

    def update(self, params, grads):
        self.seen.append((self.lr, grads[0].copy()))


def test_train_lm_resets_each_epoch_clips_and_schedules():
    ids = np.arange(41)
    model, optimizer = RecordingModel(), RecordingOptimizer()
    history = train_lm(model, optimizer, ids, batch_size=2, time_size=5, max_epochs=2, max_grad_norm=5.0,
                       lr_schedule=lambda step: 0.1 * step, progress=False)
    epoch = ["reset"] + [event for xs, ts in bptt_batches(ids, 2, 5) for event in (("forward", xs, ts), "backward")]
    assert len(model.events) == 2 * len(epoch) and history.epochs == 2 and history.total_steps == 8
    for got, expected in zip(model.events, epoch * 2):
        if isinstance(expected, str):
            assert got == expected
        else:
            np.testing.assert_array_equal(got[1], expected[1])
            np.testing.assert_array_equal(got[2], expected[2])
    assert [lr for lr, _ in optimizer.seen] == pytest.approx([0.1 * step for step in range(8)])
    for _, grad in optimizer.seen:  # clipped from norm 50 to 5 before the update
        np.testing.assert_allclose(grad, [3.0, 4.0, 0.0], rtol=1e-6)


def test_lm_experiment_trains_and_scores_one_seeded_model():
    from seqlab.lm import lm_experiment

    settings = dict(D=4, H=6, batch_size=4, time_size=5, lr=0.01, steps=3)
    first = lm_experiment("GRU LM", "agreement", 0, **settings)
    assert first == {**lm_experiment("GRU LM", "agreement", 0, **settings), "cpu_seconds": first["cpu_seconds"]}
    assert first["perplexity"] > first["optimum"] > 1 and first["parameters"] > 0
    assert lm_experiment("RNN LM", "agreement", 1, **settings)["perplexity"] != lm_experiment("RNN LM", "agreement", 0, **settings)["perplexity"]
    with pytest.raises(ValueError, match="model must be one of"):
        lm_experiment("Transformer LM", "agreement", 0, **settings)


def test_lm_experiment_builds_a_stacked_rnn_lm_with_its_options():
    from seqlab.corpora import agreement_corpus
    from seqlab.lm import lm_experiment
    from seqlab.models import StackedRNNLM

    settings = dict(D=4, H=6, batch_size=4, time_size=5, lr=0.01, steps=3)
    two = lm_experiment("stacked RNN LM", "agreement", 0, num_layers=2, **settings)
    V = len(agreement_corpus().vocab)
    expected = StackedRNNLM(V, 4, 6, np.random.default_rng(0), num_layers=2)
    assert two["parameters"] == sum(p.size for p in expected.params)
    # One layer is the RNN LM itself: the same weights from the same seed, the same result.
    one = lm_experiment("stacked RNN LM", "agreement", 0, num_layers=1, **settings)
    assert one["perplexity"] == pytest.approx(lm_experiment("RNN LM", "agreement", 0, **settings)["perplexity"],
                                              rel=1e-6)
