"""Sampling, greedy decoding and beam search (seqlab.generate): exact distributions, samplers that
draw from them (chi-square), hand-checkable searches, exhaustive search as the oracle, states that
follow their hypotheses, and the language models as step functions."""
import itertools

import numpy as np
import pytest
import torch

from seqlab.functional import log_softmax
from seqlab.generate import (
    Hypothesis,
    beam_search,
    generate,
    greedy_decode,
    lm_step_fn,
    lm_zero_state,
    map_state,
    read_prompt,
    sample_next,
    sampling_distribution,
)
from seqlab.models import RNNLM, BetterLSTMLM, LSTMLM


def chi_square_p_value(counts: np.ndarray, probs: np.ndarray) -> float:
    """Upper-tail p-value of Pearson's chi-square test of ``counts`` against ``probs`` (tokens of probability > 0)."""
    possible = probs > 0
    expected = counts.sum() * probs[possible]
    statistic = float(np.sum((counts[possible] - expected) ** 2 / expected))
    degrees = int(possible.sum()) - 1
    return float(torch.special.gammaincc(torch.tensor(degrees / 2, dtype=torch.float64),
                                         torch.tensor(statistic / 2, dtype=torch.float64)))


# ---------------------------------------------------------------------------------------------
# sampling_distribution
# ---------------------------------------------------------------------------------------------

def test_sampling_distribution_is_the_softmax_of_tempered_logits():
    logits = np.array([[2.0, 1.0, 0.0, -1.0], [0.5, 0.5, 3.0, 1.0]])
    for temperature in (0.5, 1.0, 2.0):
        expected = torch.softmax(torch.tensor(logits) / temperature, dim=-1).numpy()
        np.testing.assert_allclose(sampling_distribution(logits, temperature), expected, rtol=1e-12)


def test_sampling_distribution_hand_computed():
    # logits log(1), log(2), log(4): probabilities 1/7, 2/7, 4/7; at T = 2 they become sqrt: 1, 1.41, 2.
    logits = np.log([1.0, 2.0, 4.0])
    np.testing.assert_allclose(sampling_distribution(logits), [1 / 7, 2 / 7, 4 / 7])
    roots = np.sqrt([1.0, 2.0, 4.0])
    np.testing.assert_allclose(sampling_distribution(logits, temperature=2.0), roots / roots.sum())
    np.testing.assert_allclose(sampling_distribution(logits, top_k=2), [0, 1 / 3, 2 / 3])


def test_top_k_agrees_with_torch_topk_filtering():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 11))
    for k in (1, 3, 11):
        t = torch.tensor(logits)
        kth = torch.topk(t, k, dim=-1).values[:, -1:]
        expected = torch.softmax(t.masked_fill(t < kth, float("-inf")) / 0.7, dim=-1).numpy()
        np.testing.assert_allclose(sampling_distribution(logits, 0.7, top_k=k), expected, rtol=1e-12, atol=1e-15)


def test_top_k_keeps_ties_with_the_kth_score_and_large_k_keeps_everything():
    logits = np.array([3.0, 1.0, 1.0, 0.0])
    np.testing.assert_allclose(sampling_distribution(logits, top_k=2), softmax_of([3.0, 1.0, 1.0, -np.inf]))
    np.testing.assert_allclose(sampling_distribution(logits, top_k=100), sampling_distribution(logits))


def softmax_of(values) -> np.ndarray:
    return np.exp(log_softmax(np.asarray(values, dtype=np.float64)))


def test_temperature_zero_is_the_argmax_with_ties_split():
    np.testing.assert_array_equal(sampling_distribution(np.array([[1.0, 5.0, 2.0]]), 0), [[0, 1, 0]])
    np.testing.assert_array_equal(sampling_distribution(np.array([5.0, 1.0, 5.0]), 0), [0.5, 0, 0.5])


def test_low_temperature_approaches_the_argmax_and_high_the_uniform():
    logits = np.array([1.0, 2.0, 0.5])
    np.testing.assert_allclose(sampling_distribution(logits, 1e-3), [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(sampling_distribution(logits, 1e6), [1 / 3] * 3, atol=1e-6)


def test_sampling_distribution_handles_huge_and_minus_inf_logits():
    probs = sampling_distribution(np.array([1000.0, 999.0, -np.inf]), 0.5)
    assert np.isfinite(probs).all() and probs[2] == 0
    np.testing.assert_allclose(probs[:2], softmax_of([2.0, 0.0]))


@pytest.mark.parametrize("kwargs, message", [
    ({"temperature": -1.0}, "temperature"),
    ({"top_k": 0}, "top_k"),
    ({"top_k": 2.5}, "top_k"),
])
def test_sampling_distribution_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sampling_distribution(np.zeros((2, 3)), **kwargs)


def test_sampling_distribution_rejects_bad_logits():
    with pytest.raises(ValueError, match="NaN"):
        sampling_distribution(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="-inf everywhere"):
        sampling_distribution(np.array([[0.0, 1.0], [-np.inf, -np.inf]]))
    with pytest.raises(ValueError, match=r"\(B, V\)"):
        sampling_distribution(np.zeros((2, 3, 4)))


# ---------------------------------------------------------------------------------------------
# sample_next
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("temperature, top_k", [(1.0, None), (0.5, None), (2.0, 3), (1.0, 1)])
def test_samples_follow_the_sampling_distribution(temperature, top_k):
    logits = np.array([1.0, 0.2, -0.5, 2.0, 0.0, -3.0])
    rng = np.random.default_rng(1)
    draws = sample_next(np.tile(logits, (40_000, 1)), rng, temperature, top_k)
    probs = sampling_distribution(logits, temperature, top_k)
    counts = np.bincount(draws, minlength=len(logits))
    assert (counts[probs == 0] == 0).all(), f"tokens of probability 0 were drawn: {counts}"
    if (probs > 0).sum() > 1:
        assert chi_square_p_value(counts, probs) > 1e-3, f"counts {counts} do not follow {probs}"


def test_sample_next_is_reproducible_and_draws_one_uniform_per_row():
    logits = np.random.default_rng(2).normal(size=(7, 5))
    first = sample_next(logits, np.random.default_rng(3))
    np.testing.assert_array_equal(first, sample_next(logits, np.random.default_rng(3)))
    rng = np.random.default_rng(3)
    uniforms = rng.random(7)
    expected = (np.cumsum(sampling_distribution(logits), axis=1) <= uniforms[:, None]).sum(axis=1)
    np.testing.assert_array_equal(first, expected)
    assert first.dtype == np.int64 and first.shape == (7,)


def test_sample_next_at_temperature_zero_is_argmax_and_uses_no_randomness():
    logits = np.array([[0.0, 3.0, 1.0], [2.0, 2.0, 1.0]])
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(sample_next(logits, rng, temperature=0), [1, 0])
    assert rng.random() == np.random.default_rng(0).random()


def test_sample_next_never_draws_an_impossible_token_at_the_end_of_the_vocabulary():
    # u close to 1 with the last token impossible: the rounding guard must not pick it.
    class AlmostOne:
        def random(self, n):
            return np.full(n, 1 - 1e-17)
    probs_logits = np.array([[0.0, 0.0, -np.inf]])
    assert sample_next(probs_logits, AlmostOne())[0] == 1


# ---------------------------------------------------------------------------------------------
# Step functions on tables: a first-order model (the state is the last token) and one that
# remembers its whole history in its state, to check that states follow their hypotheses.
# ---------------------------------------------------------------------------------------------

def bigram_step_fn(log_prob_table: np.ndarray):
    """log_prob_table: (V, V), row u the log-probabilities of the token after u. Stateless."""
    def step(last_ids, states):
        return log_prob_table[last_ids], states
    return step


def history_step_fn(log_prob_table: np.ndarray, max_len: int):
    """The same model, with the tokens read so far in the state (B, max_len + 1), -1 for none."""
    def step(last_ids, history):
        written = (history >= 0).sum(axis=1)
        history = history.copy()
        history[np.arange(len(last_ids)), written] = last_ids
        return log_prob_table[last_ids], history
    return step


def sequence_log_prob(log_prob_table, start_id, tokens) -> float:
    previous = [start_id, *tokens[:-1]]
    return float(sum(log_prob_table[u, v] for u, v in zip(previous, tokens)))


# Start 0, end 3. Greedy takes 1 (p 0.5) then must go on with p <= 0.4; going through 2 (p 0.4)
# leads to the end with p 1: 0.4 > 0.5 * 0.4 = 0.2.
HAND_TABLE = np.log(np.array([
    [1e-12, 0.5, 0.4, 0.1],
    [1e-12, 0.3, 0.3, 0.4],
    [1e-12, 1e-12, 1e-12, 1.0],
    [0.25, 0.25, 0.25, 0.25],
]))


def test_greedy_decoding_on_a_hand_checkable_model():
    out = greedy_decode(bigram_step_fn(HAND_TABLE), None, [0], max_len=5, end_id=3)
    np.testing.assert_array_equal(out, [[1, 3, 3, 3, 3]])  # 1 (0.5), then 3 (0.4 beats 0.3 and 0.3)


def test_beam_search_finds_what_greedy_misses():
    best, second = beam_search(bigram_step_fn(HAND_TABLE), None, start_id=0, end_id=3, beam_width=2, max_len=5)[0]
    assert best.tokens == [2] and best.finished and best.log_prob == pytest.approx(np.log(0.4))
    assert second.tokens == [1] and second.log_prob == pytest.approx(np.log(0.5 * 0.4))
    greedy = beam_search(bigram_step_fn(HAND_TABLE), None, start_id=0, end_id=3, beam_width=1, max_len=5)[0]
    assert greedy == [Hypothesis([1], pytest.approx(np.log(0.2)), True)]


def random_table(rng, V):
    return log_softmax(rng.normal(scale=2.0, size=(V, V)))


def exhaustive_search(log_prob_table, start_id, end_id, max_len):
    """Every sequence up to max_len tokens that ends at end_id or at max_len, with its log-probability."""
    V = len(log_prob_table)
    found = []
    for length in range(1, max_len + 1):
        for tokens in itertools.product(range(V), repeat=length):
            if end_id in tokens[:-1]:
                continue
            if tokens[-1] == end_id or length == max_len:
                found.append((sequence_log_prob(log_prob_table, start_id, list(tokens)), tokens))
    return sorted(found, key=lambda item: -item[0])


def test_a_beam_as_wide_as_every_sequence_is_exhaustive_search():
    rng = np.random.default_rng(4)
    V, max_len = 3, 4
    table = random_table(rng, V)
    oracle = exhaustive_search(table, 0, 2, max_len)
    hypotheses = beam_search(bigram_step_fn(table), None, 0, 2, beam_width=V ** max_len, max_len=max_len)[0]
    # Every sequence is found once, with its log-probability, in the oracle's order of scores
    # (a bigram model gives permutations of one multiset of transitions equal scores: compare sets).
    found = {(tuple(h.tokens) + ((2,) if h.finished else ()), round(h.log_prob, 9)) for h in hypotheses}
    assert found == {(tokens, round(log_prob, 9)) for log_prob, tokens in oracle}
    assert len(hypotheses) == len(oracle)
    np.testing.assert_allclose([h.log_prob for h in hypotheses], [log_prob for log_prob, _ in oracle])


def test_beam_scores_are_the_sequences_log_probs_and_decrease():
    rng = np.random.default_rng(5)
    table = random_table(rng, 6)
    for hypothesis in beam_search(bigram_step_fn(table), None, 1, 0, beam_width=4, max_len=7)[0]:
        tokens = hypothesis.tokens + ([0] if hypothesis.finished else [])
        assert hypothesis.log_prob == pytest.approx(sequence_log_prob(table, 1, tokens))
    scores = [h.log_prob for h in beam_search(bigram_step_fn(table), None, 1, 0, 4, 7)[0]]
    assert scores == sorted(scores, reverse=True)


def test_wider_beams_never_find_a_worse_best_sequence_here():
    rng = np.random.default_rng(6)
    for _ in range(20):
        table = random_table(rng, 5)
        greedy = beam_search(bigram_step_fn(table), None, 1, 0, 1, 6)[0][0]
        exhaustive = beam_search(bigram_step_fn(table), None, 1, 0, 5 ** 6, 6)[0][0]
        np.testing.assert_array_equal(greedy_decode(bigram_step_fn(table), None, [1], 6, end_id=0)[0, :len(greedy.tokens)],
                                      greedy.tokens)
        assert exhaustive.log_prob >= greedy.log_prob - 1e-12


def test_states_follow_their_hypotheses():
    rng = np.random.default_rng(7)
    table, max_len = random_table(rng, 5), 6
    step = history_step_fn(table, max_len)

    def checking_step(last_ids, history):
        # The history a row carries must be the tokens its hypothesis generated: check it against
        # the bigram model, which needs only the last one.
        log_probs, history = step(last_ids, history)
        written = (history >= 0).sum(axis=1)
        np.testing.assert_array_equal(history[np.arange(len(last_ids)), written - 1], last_ids)
        seen.append(history.copy())
        return log_probs, history

    seen = []
    initial = np.full((1, max_len + 1), -1)
    with_history = beam_search(checking_step, initial, 1, 0, 3, max_len)[0]
    without = beam_search(bigram_step_fn(table), None, 1, 0, 3, max_len)[0]
    assert with_history == without
    # The final histories, read back through the same search, spell the hypotheses.
    assert all(h[:, 0].tolist() == [1] * len(h) for h in seen)


def test_batched_searches_equal_separate_ones():
    rng = np.random.default_rng(8)
    table, max_len = random_table(rng, 6), 5
    step = history_step_fn(table, max_len)
    starts = np.full((3, max_len + 1), -1)

    def step_from_prefix(prefix):
        # Search n starts after reading the prefix token prefix[n]: a per-search state.
        def wrapped(last_ids, states):
            history, first = states
            log_probs, history = step(last_ids, history)
            first_step = (history >= 0).sum(axis=1) == 1
            log_probs = np.where(first_step[:, None], table[first], log_probs)
            return log_probs, (history, first)
        return wrapped

    prefixes = np.array([2, 4, 5])
    together = beam_search(step_from_prefix(prefixes), (starts, prefixes), 1, 0, 3, max_len)
    for n, prefix in enumerate(prefixes):
        alone = beam_search(step_from_prefix(None), (starts[n:n + 1], prefixes[n:n + 1]), 1, 0, 3, max_len)
        assert together[n] == alone[0]
        assert together[n][0].log_prob == pytest.approx(
            table[prefix, together[n][0].tokens[0]] + sequence_log_prob(table, together[n][0].tokens[0],
                                                                          together[n][0].tokens[1:] + [0] * together[n][0].finished))


def test_beam_search_with_fewer_possible_sequences_than_the_beam():
    table = np.array([[-np.inf, 0.0], [np.log(0.5), np.log(0.5)]])  # from 0 only 1; from 1, 0 (end) or 1
    hypotheses = beam_search(bigram_step_fn(table), None, 0, 0, beam_width=5, max_len=2)[0]
    assert [h.tokens for h in hypotheses] == [[1], [1, 1]]
    assert [h.finished for h in hypotheses] == [True, False]


def test_beam_search_ties_prefer_the_lower_token():
    table = np.log(np.full((3, 3), 1 / 3))
    hypotheses = beam_search(bigram_step_fn(table), None, 0, None, beam_width=2, max_len=2)[0]
    assert [h.tokens for h in hypotheses] == [[0, 0], [0, 1]]


def test_beam_search_without_an_end_token_runs_max_len_steps():
    table = random_table(np.random.default_rng(9), 4)
    for h in beam_search(bigram_step_fn(table), None, 0, None, 3, 5)[0]:
        assert len(h.tokens) == 5 and not h.finished


@pytest.mark.parametrize("kwargs, message", [
    ({"beam_width": 0}, "beam_width"),
    ({"max_len": 0}, "max_len"),
    ({"end_id": 9}, "end_id"),
])
def test_beam_search_rejects_bad_arguments(kwargs, message):
    arguments = {"start_id": 0, "end_id": 3, "beam_width": 2, "max_len": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        beam_search(bigram_step_fn(HAND_TABLE), None, **arguments)


def test_a_step_fn_with_wrong_shapes_is_reported():
    with pytest.raises(ValueError, match="log_probs of shape"):
        beam_search(lambda ids, s: (np.zeros(len(ids)), s), None, 0, 1, 2, 3)
    with pytest.raises(ValueError, match="first axes"):
        beam_search(lambda ids, s: (np.zeros((len(ids), 4)), np.zeros((1, 2))), np.zeros((1, 2)), 0, 1, 2, 3)
    with pytest.raises(ValueError, match="disagree"):
        generate(bigram_step_fn(HAND_TABLE), np.zeros((2, 1)), [0, 0, 0], 3, temperature=0)


# ---------------------------------------------------------------------------------------------
# generate
# ---------------------------------------------------------------------------------------------

def test_generate_pads_finished_sequences_with_end_and_stops_early():
    calls = []

    def step(last_ids, states):
        calls.append(1)
        return HAND_TABLE[last_ids], states

    out = generate(step, None, [0, 0], 10, temperature=0, end_id=3)
    np.testing.assert_array_equal(out, [[1, 3] + [3] * 8] * 2)
    assert len(calls) == 2


def test_generate_samples_are_reproducible_and_follow_the_model():
    table = random_table(np.random.default_rng(10), 4)
    first = generate(bigram_step_fn(table), None, np.zeros(2000, int), 3, rng=np.random.default_rng(11))
    again = generate(bigram_step_fn(table), None, np.zeros(2000, int), 3, rng=np.random.default_rng(11))
    np.testing.assert_array_equal(first, again)
    # The second token, given the first was 1, follows row 1 of the table.
    after_one = first[first[:, 0] == 1, 1]
    assert chi_square_p_value(np.bincount(after_one, minlength=4), np.exp(table[1])) > 1e-3


def test_generate_needs_a_generator_to_sample():
    with pytest.raises(ValueError, match="rng"):
        generate(bigram_step_fn(HAND_TABLE), None, [0], 3)


def test_map_state_keeps_the_structure():
    state = {"h": np.arange(3), "pair": (np.ones((3, 2)), [np.zeros(3)]), "none": None}
    doubled = map_state(lambda a: a * 2, state)
    assert isinstance(doubled["pair"], tuple) and isinstance(doubled["pair"][1], list) and doubled["none"] is None
    np.testing.assert_array_equal(doubled["h"], [0, 2, 4])


# ---------------------------------------------------------------------------------------------
# Language models as step functions
# ---------------------------------------------------------------------------------------------

def language_models():
    rng = np.random.default_rng(12)
    return [RNNLM(7, 4, 5, rng, dtype=np.float64), LSTMLM(7, 4, 5, rng, dtype=np.float64),
            BetterLSTMLM(7, 5, 5, rng, num_layers=2, dtype=np.float64).eval()]


@pytest.mark.parametrize("model", language_models(), ids=["RNNLM", "LSTMLM", "BetterLSTMLM"])
def test_stepping_a_language_model_equals_reading_the_whole_sequence(model):
    xs = np.random.default_rng(13).integers(0, 7, size=(3, 6))
    model.reset_state()
    expected = log_softmax(model.predict(xs))  # (N, T, V)
    step, states = lm_step_fn(model), lm_zero_state(model, 3)
    for t in range(6):
        log_probs, states = step(xs[:, t], states)
        np.testing.assert_allclose(log_probs, expected[:, t], rtol=1e-10, atol=1e-12)
    start_ids, prompt_states = read_prompt(step, lm_zero_state(model, 3), xs)
    np.testing.assert_array_equal(start_ids, xs[:, -1])
    np.testing.assert_allclose(step(start_ids, prompt_states)[0], expected[:, -1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("model", language_models(), ids=["RNNLM", "LSTMLM", "BetterLSTMLM"])
def test_beam_search_on_a_language_model_scores_what_the_model_says(model):
    step = lm_step_fn(model)
    hypotheses = beam_search(step, lm_zero_state(model, 1), start_id=1, end_id=1, beam_width=4, max_len=5)[0]
    assert len(hypotheses) == 4
    for h in hypotheses:
        tokens = h.tokens + ([1] if h.finished else [])
        model.reset_state()
        log_probs = log_softmax(model.predict(np.array([[1, *tokens[:-1]]])))[0]  # (T, V)
        assert h.log_prob == pytest.approx(float(log_probs[np.arange(len(tokens)), tokens].sum()))


def test_a_language_model_in_training_mode_is_refused():
    model = BetterLSTMLM(7, 5, 5, np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="eval"):
        lm_step_fn(model)(np.array([0]), lm_zero_state(model, 1))
