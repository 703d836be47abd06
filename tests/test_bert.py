"""BERT's data pipeline (vocabulary, pairs, MLM masking, the replaced-word task) and the NumPy model and its twin."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqlab.bert import (CLS_ID, FIRST_WORD_ID, IGNORE_INDEX, MASK_ID, PAD_ID, SEP_ID, Bert, BertClassifier, BertConfig,
                         MaskedLMHead, bert_vocabulary, encode_inputs, mask_tokens,
                         mlm_loss_and_grads, mlm_predictions, pretrain_and_fine_tune, pretrain_mlm, replaced_word_task,
                         split_sentences)
from seqlab.bert_torch import TinyBertClassifier
from seqlab.convert import bert_to_torch, torch_bert_grads_as_numpy, torch_bert_to_numpy
from seqlab.corpora import EOS, synthetic_corpus
from seqlab.gradcheck import numerical_gradient, relative_error


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


def test_replaced_word_task_labels_are_right(corpus):
    vocab = bert_vocabulary(corpus.vocab)
    sentences, labels = replaced_word_task(corpus.source, vocab, 60, np.random.default_rng(0))
    assert 0 < labels.mean() < 1
    for sentence, label in zip(sentences, labels):
        assert corpus.source.is_grammatical(vocab.decode(sentence) + [EOS]) == bool(label)


def small_model(dtype=np.float32, seed=0, perturb=0.0):
    rng = np.random.default_rng(seed)
    config = BertConfig(vocab_size=9, max_len=6, D=8, num_heads=2, d_ff=12, num_layers=2)
    bert = Bert.init(config, rng, dtype)
    for p in bert.params:
        p += (perturb * rng.standard_normal(p.shape)).astype(dtype)
    head = MaskedLMHead(bert.embeddings.token, (0.1 * rng.standard_normal(9)).astype(dtype))
    ids = np.array([[CLS_ID, 4, 5, 6, SEP_ID, PAD_ID], [CLS_ID, 7, 8, SEP_ID, PAD_ID, PAD_ID]])
    segments = np.array([[0, 0, 0, 1, 1, 0], [0, 0, 0, 0, 0, 0]])
    labels = np.full_like(ids, IGNORE_INDEX)
    labels[0, 1], labels[0, 2], labels[1, 1] = 4, 5, 7
    masked = np.where(labels != IGNORE_INDEX, MASK_ID, ids)
    return config, bert, head, masked, segments, labels


def test_numpy_bert_passes_a_gradient_check_of_every_parameter():
    _, bert, head, masked, segments, labels = small_model(np.float64, perturb=0.3)
    loss = lambda: mlm_loss_and_grads(bert, head, masked, segments, labels)
    loss()
    analytic = [g.copy() for g in bert.grads + head.grads]
    for name, p, g in zip(bert.param_names + ("head.bias",), bert.params + head.params, analytic):
        numeric = numerical_gradient(loss, p, 1e-5)
        if name.endswith("attention.b_in"):  # the key bias: its gradient is zero, the numerical one round-off
            g, numeric = np.delete(g, np.s_[8:16]), np.delete(numeric, np.s_[8:16])
        assert relative_error(g, numeric) <= 1e-6, name


def test_classifier_gradient_check_reaches_the_encoder():
    _, bert, _, _, segments, _ = small_model(np.float64, perturb=0.3)
    classifier = BertClassifier.init(bert, 3, np.random.default_rng(1))
    ids = np.array([[CLS_ID, 4, 5, 6, SEP_ID, PAD_ID], [CLS_ID, 7, 8, SEP_ID, PAD_ID, PAD_ID]])
    dlogits = np.random.default_rng(2).standard_normal((2, 3))
    loss = lambda: float(np.sum(classifier.forward(ids, segments) * dlogits))
    loss()
    classifier.backward(dlogits)
    analytic = [g.copy() for g in classifier.grads]
    for i in (0, 5, len(classifier.params) - 4, len(classifier.params) - 1):  # token table, a block, pooler, output
        assert relative_error(analytic[i], numerical_gradient(loss, classifier.params[i], 1e-5)) <= 1e-6, i


def test_numpy_bert_equals_tiny_bert_and_converts_back():
    config, bert, head, masked, segments, labels = small_model(np.float32)
    model = bert_to_torch(bert, head, config)
    loss = mlm_loss_and_grads(bert, head, masked, segments, labels)
    states = model(torch.from_numpy(masked), torch.from_numpy(segments))
    t_loss = F.cross_entropy(model.mlm_logits(states).reshape(-1, 9), torch.from_numpy(labels).reshape(-1))
    t_loss.backward()
    torch.testing.assert_close(torch.tensor(loss), t_loss.detach(), rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(bert.grads + head.grads, torch_bert_grads_as_numpy(model), strict=True):
        torch.testing.assert_close(torch.from_numpy(ours), torch.from_numpy(np.ascontiguousarray(theirs)),
                                   rtol=1e-5, atol=1e-5)
    back, back_head = torch_bert_to_numpy(model)
    real = masked != PAD_ID
    np.testing.assert_allclose(back.forward(masked, segments)[real], bert.forward(masked, segments)[real], atol=1e-6)
    assert back_head.table is back.embeddings.params[0], "the head must stay tied to the token table"
    logits = TinyBertClassifier(model, 2)(torch.from_numpy(masked), torch.from_numpy(segments))
    assert logits.shape == (2, 2)


def test_padding_changes_nothing_at_the_real_positions_and_errors_are_named():
    _, bert, head, masked, segments, labels = small_model()
    full = bert.forward(masked, segments)
    shorter = bert.forward(masked[1:, :4], segments[1:, :4])
    np.testing.assert_allclose(shorter[0], full[1, :4], atol=1e-6)
    with pytest.raises(ValueError, match="max_len"):
        bert.forward(np.ones((1, 7), np.int64), np.zeros((1, 7), np.int64))
    with pytest.raises(ValueError, match="no position"):
        mlm_loss_and_grads(bert, head, masked, segments, np.full_like(labels, IGNORE_INDEX))


def test_pretraining_lowers_the_loss_and_the_experiment_returns_plain_results(corpus):
    vocab = bert_vocabulary(corpus.vocab)
    sentences = split_sentences(corpus.train, corpus.vocab, vocab)
    ids, segments = encode_inputs(sentences, length=12)
    config = BertConfig(len(vocab), max_len=12, D=16, num_heads=2, d_ff=32, num_layers=1)
    bert = Bert.init(config, np.random.default_rng(0))
    head = MaskedLMHead(bert.embeddings.token, np.zeros(len(vocab), np.float32))
    history = pretrain_mlm(bert, head, ids, segments, steps=60, batch_size=32, log_every=20, progress=False)
    assert history.loss[-1] < history.loss[0]
    guesses = mlm_predictions(bert, head, ids[:5], segments[:5])
    assert guesses.shape == (5, 12) and (guesses >= FIRST_WORD_ID).all()
    task = replaced_word_task(corpus.source, vocab, 40, np.random.default_rng(1))
    data = (*encode_inputs(task[0], length=12), task[1])
    _, cloze_labels = mask_tokens(ids[:50], np.random.default_rng(2), len(vocab))
    cloze = np.where(cloze_labels != IGNORE_INDEX, MASK_ID, ids[:50])
    result = pretrain_and_fine_tune(0, config, (ids, segments), (cloze, segments[:50], ids[:50]), data, data,
                                    pretrain_steps=20, log_every=10, fine_tune=dict(epochs=2, lr=1e-3))
    assert result["steps"] == [10, 20] and len(result["cloze_accuracy"]) == 2
    for name in ("pre-trained", "from scratch"):
        assert 0 <= result[name]["accuracy"] <= 1 and len(result[name]["losses"]) == 2


def test_every_sentence_of_the_language_is_listed_once(corpus):
    sentences, probs = corpus.source.all_sentences()
    assert abs(probs.sum() - 1) < 1e-9
    assert len({tuple(s) for s in sentences}) == len(sentences)
    with pytest.raises(ValueError, match="more than 10"):
        corpus.source.all_sentences(max_sentences=10)
    with pytest.raises(ValueError, match="last 2 token ids"):
        corpus.source.state_of(np.array([0]))
