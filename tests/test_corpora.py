"""The vocabulary, the synthetic languages (exact entropy rates) and the standard-library corpus."""
import math

import numpy as np
import pytest

from seqlab.corpora import (
    EOS,
    UNK,
    AgreementLanguage,
    MarkovLanguage,
    agreement_corpus,
    Vocabulary,
    docstring_tokens,
    stdlib_docstrings_corpus,
    stdlib_source_files,
    synthetic_corpus,
)
from seqlab.lm import NGramLM


# -- Vocabulary -----------------------------------------------------------------------------------

def test_vocabulary_orders_by_frequency_then_alphabetically_after_the_specials():
    vocab = Vocabulary.build("b a c b a d b".split())
    assert vocab.tokens == [UNK, EOS, "b", "a", "c", "d"]  # b 3, a 2, then c and d tie at 1: alphabetical
    assert len(vocab) == 6 and "a" in vocab and "z" not in vocab
    assert vocab.id_of("b") == 2 and vocab.id_of("never seen") == vocab.id_of(UNK) == 0


def test_vocabulary_caps_and_encodes_unknown_words_as_unk():
    vocab = Vocabulary.build("b a c b a d b".split(), max_size=4)
    assert vocab.tokens == [UNK, EOS, "b", "a"]
    ids = vocab.encode("a d b zebra".split())
    assert ids.dtype == np.int64 and ids.tolist() == [3, 0, 2, 0]
    assert vocab.decode(ids) == ["a", UNK, "b", UNK]
    assert Vocabulary.build("b a c b a d b".split(), min_count=2).tokens == [UNK, EOS, "b", "a"]


def test_vocabulary_errors_name_the_fix():
    with pytest.raises(ValueError, match="max_size=1"):
        Vocabulary.build(["a"], max_size=1)
    with pytest.raises(ValueError, match="<unk>"):
        Vocabulary.build("a b".split(), max_size=2, specials=(EOS,))
    with pytest.raises(TypeError, match="split"):
        Vocabulary.build(["a"]).encode("a b")
    no_unk = Vocabulary([EOS, "a"])
    with pytest.raises(KeyError, match="zebra"):
        no_unk.encode(["a", "zebra"])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        no_unk.decode([2])


# -- MarkovLanguage: hand-computable chains --------------------------------------------------------

def first_order(tokens, table):
    """A first-order language from {context token: {next token: probability}}."""
    vocab = Vocabulary(tokens)
    contexts = np.array([[vocab.id_of(c)] for c in table])
    probs = np.zeros((len(table), len(vocab)))
    for s, row in enumerate(table.values()):
        for token, p in row.items():
            probs[s, vocab.id_of(token)] = p
    return MarkovLanguage(vocab, contexts, probs)


def test_a_deterministic_cycle_has_entropy_zero():
    cycle = first_order([EOS, "a", "b"], {EOS: {"a": 1.0}, "a": {"b": 1.0}, "b": {EOS: 1.0}})
    assert cycle.entropy_rate() == pytest.approx(0.0, abs=1e-12)
    assert cycle.optimal_perplexity() == pytest.approx(1.0)
    assert cycle.period == 3
    np.testing.assert_allclose(cycle.stationary_distribution(), [1 / 3] * 3)
    ids = cycle.sample(7, np.random.default_rng(0))
    assert cycle.vocab.decode(ids) == ["a", "b", EOS, "a", "b", EOS, "a"]
    assert cycle.log_prob(ids) == 0.0
    assert cycle.sample_sentences(2, np.random.default_rng(0)) == [["a", "b", EOS]] * 2


@pytest.mark.parametrize("order", [1, 2])
def test_a_uniform_iid_source_has_entropy_log_v(order):
    vocab = Vocabulary([EOS, "a", "b", "c"])
    V = len(vocab)
    language = MarkovLanguage.from_rule(vocab, order, lambda context: {token: 1 / V for token in vocab.tokens})
    assert len(language.contexts) == 1 + (V - 1) * V ** (order - 1)  # contexts after <eos> all collapse to the start
    assert language.entropy_rate() == pytest.approx(math.log(V), rel=1e-12)
    assert language.ngram_entropy(1) == pytest.approx(math.log(V), rel=1e-12)


def test_entropy_rate_weights_each_state_by_its_stationary_probability():
    # <eos> -> a always (0 nats); a -> <eos> or a with 1/2 each (log 2 nats). pi = (1/3, 2/3).
    language = first_order([EOS, "a"], {EOS: {"a": 1.0}, "a": {EOS: 0.5, "a": 0.5}})
    np.testing.assert_allclose(language.stationary_distribution(), [1 / 3, 2 / 3])
    assert language.entropy_rate() == pytest.approx(2 / 3 * math.log(2), rel=1e-12)
    assert language.period == 1


def test_invalid_chains_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="probability distribution"):
        first_order([EOS, "a"], {EOS: {"a": 0.5}, "a": {EOS: 1.0}})
    with pytest.raises(ValueError, match="irreducible"):  # "b" is never reached from the start
        first_order([EOS, "a", "b"], {EOS: {"a": 1.0}, "a": {EOS: 1.0}, "b": {EOS: 1.0}})
    with pytest.raises(ValueError, match="no row"):
        first_order([EOS, "a", "b"], {EOS: {"a": 1.0}, "a": {"b": 1.0}})
    with pytest.raises(ValueError, match="<eos>"):
        MarkovLanguage(Vocabulary(["a"]), np.zeros((1, 1)), np.ones((1, 1)))


# -- MarkovLanguage.random: the toy English ---------------------------------------------------------

@pytest.fixture(scope="module")
def language():
    return MarkovLanguage.random(seed=0)


def test_exact_entropy_rate_matches_a_monte_carlo_estimate(language):
    n = 200_000
    ids = language.sample(n, np.random.default_rng(1))
    # Per-token surprisals are correlated within a sentence, so the standard error comes from the
    # spread of means over 100 long batches (batch means), not from n alone.
    k = language.order
    surprisal = -language.token_log_probs(ids)
    batch_means = surprisal[: len(surprisal) // 100 * 100].reshape(100, -1).mean(axis=1)
    standard_error = batch_means.std(ddof=1) / math.sqrt(100)
    estimate = -language.log_prob(ids) / (n - k)
    assert estimate == pytest.approx(surprisal.mean(), rel=1e-9)
    assert abs(estimate - language.entropy_rate()) < 4 * standard_error, (estimate, language.entropy_rate(), standard_error)
    assert standard_error < 0.01  # the check has teeth: the exact value is pinned to about 1%


def test_the_toy_language_needs_its_second_order(language):
    unigram, bigram, trigram = (language.ngram_entropy(n) for n in (1, 2, 3))
    assert trigram == pytest.approx(language.entropy_rate(), rel=1e-10)
    assert unigram > bigram > trigram + 0.3, "the word two back should matter: a bigram model is clearly worse"
    # A bigram model fitted on a long sample reaches the exact bigram entropy.
    rng = np.random.default_rng(2)
    train, test = language.sample(200_000, rng), language.sample(50_000, rng)
    fitted = NGramLM(2, len(language.vocab), k=1e-3).fit(train).cross_entropy(test)
    assert fitted == pytest.approx(bigram, abs=0.02)


def test_the_toy_language_is_a_small_ergodic_english(language):
    assert 30 <= len(language.vocab) <= 60 and language.order == 2
    assert language.period == 1  # irreducible (checked when built) and aperiodic: ergodic
    assert language.entropy_rate() == pytest.approx(0.8843, abs=1e-4)  # seed 0 gives the same language everywhere
    rng = np.random.default_rng(3)
    sentences = language.sample_sentences(50, rng)
    assert all(s[-1] == EOS and EOS not in s[:-1] for s in sentences)
    assert all(language.is_grammatical(s) for s in sentences)
    first = sentences[0]
    assert language.vocab.decode(language.sample(len(first), np.random.default_rng(3))) == first  # same draws


def test_is_grammatical_rejects_broken_agreement_and_unknown_words(language):
    sentence = next(s for s in language.sample_sentences(200, np.random.default_rng(4))
                    if s[1] in ("dog", "cat", "bird", "child", "teacher"))
    assert language.is_grammatical(sentence)
    plural = {"dog": "dogs", "cat": "cats", "bird": "birds", "child": "children", "teacher": "teachers"}[sentence[1]]
    assert not language.is_grammatical([sentence[0], plural, *sentence[2:]])
    assert not language.is_grammatical(["the", "zebra", EOS])
    assert not language.is_grammatical([EOS, EOS])  # no empty sentences


def test_random_languages_depend_on_the_seed_only():
    a, b, c = MarkovLanguage.random(seed=1), MarkovLanguage.random(seed=1), MarkovLanguage.random(seed=2)
    np.testing.assert_array_equal(a.next_probs, b.next_probs)
    assert a.entropy_rate() != c.entropy_rate()
    with pytest.raises(ValueError, match="density"):
        MarkovLanguage.random(density=0)


def test_synthetic_corpus_is_deterministic_and_sized():
    corpus = synthetic_corpus(n_train=5000, n_valid=500, n_test=600, seed=0)
    again = synthetic_corpus(n_train=5000, n_valid=500, n_test=600, seed=0)
    assert [len(corpus.train), len(corpus.valid), len(corpus.test)] == [5000, 500, 600]
    for split in ("train", "valid", "test"):
        np.testing.assert_array_equal(getattr(corpus, split), getattr(again, split))
        assert getattr(corpus, split).dtype == np.int64
    assert not np.array_equal(corpus.train[:500], corpus.valid)  # independent streams
    assert corpus.source.vocab is corpus.vocab and np.isfinite(corpus.source.log_prob(corpus.test))
    assert not np.array_equal(synthetic_corpus(n_train=5000, seed=1).train, corpus.train)
    with pytest.raises(ValueError, match="n_valid"):
        synthetic_corpus(n_valid=0)


# -- The standard-library docstrings ------------------------------------------------------------------

def test_docstring_tokens_reads_docstrings_only_and_drops_doctests():
    source = '''"""A Module.

>>> 1 + 1
2

It's done."""
x = "not a docstring"
if True:
    class C:
        """Class C, version 2.0: see `f()`."""
        def f(self):
            return "no docstring here"
'''
    assert docstring_tokens(source) == [["a", "module", ".", "it's", "done", "."],
                                        ["class", "c", ",", "version", "2", ".", "0", ":", "see", "f", "(", ")", "."]]


def write_files(root, texts):
    for name, text in texts.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())


def test_stdlib_corpus_skips_bad_files_and_splits_by_file(tmp_path):
    write_files(tmp_path, {
        **{f"m{i}.py": f'"""Module {i} says hello {"world " * i}."""\n' for i in range(10)},
        "latin1.py": '"""caf\xe9 au lait."""'.encode("latin-1"),
        "broken.py": '"""fine words."""\ndef (:\n',
        "test/test_x.py": '"""excluded."""',
        "pkg/tkinter/x.py": '"""excluded."""',
    })
    assert stdlib_source_files(tmp_path) == ["broken.py", "latin1.py", *[f"m{i}.py" for i in range(10)]]
    files = stdlib_source_files(tmp_path)
    corpus = stdlib_docstrings_corpus(max_vocab=8, files=files, stdlib_dir=tmp_path)
    again = stdlib_docstrings_corpus(max_vocab=8, files=files, stdlib_dir=tmp_path)
    streams = [corpus.vocab.decode(getattr(corpus, split)) for split in ("train", "valid", "test")]
    assert sum(s.count(EOS) for s in streams) == 10  # one per docstring; latin1.py and broken.py skipped
    assert all(s[-1] == EOS for s in streams)
    assert "caf" not in corpus.vocab and "fine" not in corpus.vocab
    assert len(corpus.vocab) == 8 and corpus.vocab.tokens[:2] == [UNK, EOS]
    np.testing.assert_array_equal(corpus.test, again.test)
    other_seed = stdlib_docstrings_corpus(max_vocab=8, seed=1, files=files, stdlib_dir=tmp_path)
    assert len(other_seed.test) != len(corpus.test) or not np.array_equal(other_seed.test, corpus.test)


def test_stdlib_corpus_errors_name_the_argument(tmp_path):
    with pytest.raises(FileNotFoundError, match="stdlib_dir"):
        stdlib_docstrings_corpus(stdlib_dir=tmp_path / "missing")
    write_files(tmp_path, {"a.py": '"""only one file."""'})
    with pytest.raises(ValueError, match="more files"):
        stdlib_docstrings_corpus(files=["a.py"], stdlib_dir=tmp_path)
    with pytest.raises(ValueError, match="max_vocab"):
        stdlib_docstrings_corpus(max_vocab=2, stdlib_dir=tmp_path)
    with pytest.raises(ValueError, match="split_fractions"):
        stdlib_docstrings_corpus(split_fractions=(0.5, 0.5), stdlib_dir=tmp_path)


def test_the_default_stdlib_corpus_is_real_english():
    corpus = stdlib_docstrings_corpus(max_vocab=3000)
    assert len(corpus.vocab) == 3000
    assert len(corpus.train) > 100_000 and len(corpus.valid) > 10_000 and len(corpus.test) > 10_000
    assert {"the", ".", ","} <= set(corpus.vocab.tokens[2:8])
    unk_rate = np.mean(corpus.test == corpus.vocab.id_of(UNK))
    assert 0.01 < unk_rate < 0.15, unk_rate  # capped, yet mostly known words


# -- The agreement language: a long-range dependency with a known entropy rate --------------------

def _oracle_log_probs(language, ids):
    """log P(ids[t+1] | ids[:t+1]) under the true source, token by token, written from its definition."""
    subject_of_verb = dict(zip(language.subject_ids.tolist(), language.verb_ids.tolist()))
    log_probs, verb = [], None
    for previous, token in zip(ids[:-1].tolist(), ids[1:].tolist()):
        if previous == language.eos_id:
            p = 1 / language.num_subjects if token in subject_of_verb else 0.0
        elif previous in language.verb_ids:
            p = float(token == language.eos_id)
        else:
            verb = subject_of_verb.get(previous, verb)
            p = language.q if token == verb else (1 - language.q) / language.num_fillers if token in language.filler_ids else 0.0
        log_probs.append(math.log(p))
    return np.array(log_probs)


@pytest.mark.parametrize("options", [dict(), dict(num_subjects=2, num_fillers=1, mean_span=3.0)])
def test_agreement_language_entropy_rate_matches_the_mean_surprise_of_its_own_text(options):
    language = AgreementLanguage(**options)
    ids = language.sample(200_000, np.random.default_rng(0))
    surprise = -_oracle_log_probs(language, ids).mean()
    assert surprise == pytest.approx(language.entropy_rate(), abs=0.01)
    assert language.optimal_perplexity() == pytest.approx(math.exp(language.entropy_rate()))
    expected_gap = math.log(language.num_subjects) / language.mean_sentence_length()
    assert math.log(language.no_memory_perplexity()) - language.entropy_rate() == pytest.approx(expected_gap)


def test_agreement_sentences_end_with_the_verb_of_their_subject():
    language = AgreementLanguage(num_subjects=3, num_fillers=2, mean_span=4.0)
    ids = language.sample(5_000, np.random.default_rng(1))
    sentences = np.split(ids, np.flatnonzero(ids == language.eos_id) + 1)[:-1]
    spans = []
    for sentence in sentences:
        subject, *fillers, verb, eos = sentence.tolist()
        assert eos == language.eos_id and subject in language.subject_ids and set(fillers) <= set(language.filler_ids)
        assert verb == language.verb_ids[list(language.subject_ids).index(subject)]
        spans.append(len(fillers))
    assert np.mean(spans) == pytest.approx(language.mean_span, rel=0.1)
    assert ids[0] in language.subject_ids  # the stream starts at a sentence start


def test_agreement_corpus_is_seeded_and_keeps_its_source():
    a, b, c = agreement_corpus(2_000, 500, 500, seed=0), agreement_corpus(2_000, 500, 500, seed=0), agreement_corpus(2_000, 500, 500, seed=1)
    assert np.array_equal(a.train, b.train) and not np.array_equal(a.train, c.train)
    assert not np.array_equal(a.train[:500], a.valid)
    assert len(a.train) == 2_000 and a.source.vocab is a.vocab and a.name == "agreement"


def test_agreement_language_errors_name_the_argument():
    with pytest.raises(ValueError, match="num_subjects"):
        AgreementLanguage(num_subjects=1)
    with pytest.raises(ValueError, match="at most"):
        AgreementLanguage(num_subjects=20)
    with pytest.raises(ValueError, match="mean_span"):
        AgreementLanguage(mean_span=0)
