"""The tiny BERT's data pipeline (vocabulary, pairs, MLM masking, NSP, the swap task) and model."""
import numpy as np
import pytest
import torch

from seqlab.bert import (CLS_ID, FIRST_WORD_ID, IGNORE_INDEX, MASK_ID, PAD_ID, SEP_ID, BertClassifier, BertConfig,
                         TinyBert, bert_vocabulary, encode_inputs, mask_tokens, mlm_accuracy, next_sentence_pairs,
                         pretrain_mlm, split_sentences, swapped_word_task)
from seqlab.corpora import EOS, synthetic_corpus


@pytest.fixture(scope="module")
def corpus():
    return synthetic_corpus(n_train=3000, n_valid=500, n_test=500)


def test_vocabulary_specials_first_and_no_eos(corpus):
    vocab = bert_vocabulary(corpus.vocab)
    assert vocab.tokens[:4] == ["[PAD]", "[CLS]", "[SEP]", "[MASK]"]
    assert EOS not in vocab and len(vocab) == len(corpus.vocab) + 3


def test_split_sentences_drops_eos_and_the_unfinished_tail(corpus):
    vocab = bert_vocabulary(corpus.vocab)
    sentences = split_sentences(corpus.train, corpus.vocab, vocab)
    assert sum(len(s) + 1 for s in sentences) <= len(corpus.train)
    assert all(s.min() >= FIRST_WORD_ID for s in sentences)
    first = vocab.decode(sentences[0])
    assert corpus.vocab.decode(corpus.train[:len(first) + 1]) == first + [EOS]


def test_encode_inputs_pair_layout_and_segments():
    ids, segments = encode_inputs([np.array([5, 6])], [np.array([7])], length=8)
    np.testing.assert_array_equal(ids, [[CLS_ID, 5, 6, SEP_ID, 7, SEP_ID, PAD_ID, PAD_ID]])
    np.testing.assert_array_equal(segments, [[0, 0, 0, 0, 1, 1, 0, 0]])
    single, single_segments = encode_inputs([np.array([5])])
    np.testing.assert_array_equal(single, [[CLS_ID, 5, SEP_ID]])
    assert not single_segments.any()


def random_inputs(seed=0, N=400, T=20, V=30):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, T - 2, size=N)
    sentences = [rng.integers(FIRST_WORD_ID, V, size=n) for n in lengths]
    ids, _ = encode_inputs(sentences, length=T)
    return ids, lengths


def test_masking_chooses_exactly_15_percent_of_words_and_never_specials():
    ids, lengths = random_inputs()
    masked, labels = mask_tokens(ids, np.random.default_rng(1), 30)
    chosen = labels != IGNORE_INDEX
    np.testing.assert_array_equal(chosen.sum(1), np.maximum(1, np.round(0.15 * lengths)))
    assert (ids[chosen] >= FIRST_WORD_ID).all(), "a special token was chosen"
    np.testing.assert_array_equal(masked[~chosen], ids[~chosen])
    np.testing.assert_array_equal(labels[chosen], ids[chosen])


def test_masking_splits_80_10_10():
    ids, _ = random_inputs(N=5000, V=1000)
    masked, labels = mask_tokens(ids, np.random.default_rng(2), 1000)
    chosen = labels != IGNORE_INDEX
    to_mask = (masked == MASK_ID)[chosen].mean()
    kept = (masked == ids)[chosen].mean()
    assert abs(to_mask - 0.8) < 0.02 and abs(kept - 0.1) < 0.015, (to_mask, kept)
    assert masked[chosen & (masked != MASK_ID)].min() >= FIRST_WORD_ID


def test_masking_follows_its_documented_draws_exactly():
    ids, _ = random_inputs(seed=3, N=6, T=10)
    masked, labels = mask_tokens(ids, np.random.default_rng(4), 30)
    rng = np.random.default_rng(4)
    keys, actions, random_words = rng.random(ids.shape), rng.random(ids.shape), rng.integers(FIRST_WORD_ID, 30, ids.shape)
    for row in range(len(ids)):
        words = np.flatnonzero(ids[row] >= FIRST_WORD_ID)
        k = max(1, int(np.round(0.15 * len(words))))
        chosen = words[np.argsort(keys[row, words], kind="stable")[:k]]
        for t in chosen:
            expected = MASK_ID if actions[row, t] < 0.8 else random_words[row, t] if actions[row, t] < 0.9 else ids[row, t]
            assert masked[row, t] == expected and labels[row, t] == ids[row, t]
        assert (labels[row] != IGNORE_INDEX).sum() == k


def test_masking_errors_are_named():
    with pytest.raises(ValueError, match="input_ids"):
        mask_tokens(np.zeros(5, np.int64), np.random.default_rng(0), 10)
    masked, labels = mask_tokens(np.array([[CLS_ID, SEP_ID, PAD_ID]]), np.random.default_rng(0), 10)
    assert (labels == IGNORE_INDEX).all(), "a row without words has nothing to mask"


def test_next_sentence_pairs_half_random():
    sentences = [np.array([FIRST_WORD_ID + i]) for i in range(2000)]
    firsts, seconds, labels = next_sentence_pairs(sentences, np.random.default_rng(0))
    assert abs(labels.mean() - 0.5) < 0.05
    follows = np.array([s[0] == f[0] + 1 for f, s in zip(firsts, seconds)])
    np.testing.assert_array_equal(follows[labels == 0], True)


def test_swapped_word_task_labels_are_right(corpus):
    vocab = bert_vocabulary(corpus.vocab)
    sentences, labels = swapped_word_task(corpus.source, vocab, 60, np.random.default_rng(0))
    for sentence, label in zip(sentences, labels):
        assert corpus.source.is_grammatical(vocab.decode(sentence) + [EOS]) == bool(label)


def test_tiny_bert_shapes_padding_and_a_few_steps_of_mlm(corpus):
    vocab = bert_vocabulary(corpus.vocab)
    sentences = split_sentences(corpus.train, corpus.vocab, vocab)
    ids, segments = encode_inputs(sentences, length=12)
    torch.manual_seed(0)
    model = TinyBert(BertConfig(len(vocab), max_len=12, D=16, num_heads=2, d_ff=32, num_layers=1))
    history = pretrain_mlm(model, ids, segments, steps=40, batch_size=32, log_every=20)
    assert history.loss[-1] < history.loss[0]
    states = model(torch.from_numpy(ids[:3]), torch.from_numpy(segments[:3]))
    assert states.shape == (3, 12, 16)
    # Padding is masked out of attention: more padding changes nothing at the real positions.
    n_real = int((ids[0] != PAD_ID).sum())
    shorter = model(torch.from_numpy(ids[:1, :n_real]), torch.from_numpy(segments[:1, :n_real]))
    torch.testing.assert_close(shorter[0], states[0, :n_real], rtol=1e-5, atol=1e-5)
    masked, labels = mask_tokens(ids[:50], np.random.default_rng(0), len(vocab))
    assert 0 <= mlm_accuracy(model, masked, segments[:50], labels) <= 1
    logits = BertClassifier(model, 2)(torch.from_numpy(ids[:3]), torch.from_numpy(segments[:3]))
    assert logits.shape == (3, 2)
    with pytest.raises(ValueError, match="max_len"):
        model(torch.zeros((1, 13), dtype=torch.long), torch.zeros((1, 13), dtype=torch.long))
