"""BERT from scratch in NumPy, and its data: inputs with segments, masked-LM masking, a sentence task.

Taught in: book/09_bert.md

Shapes: N sequences, T positions, D features, V the vocabulary of :func:`bert_vocabulary`, whose
first four ids are the specials ``[PAD] = 0``, ``[CLS] = 1``, ``[SEP] = 2``, ``[MASK] = 3``; every
id from ``FIRST_WORD_ID = 4`` on is a word. An input is ``[CLS] A [SEP] B [SEP]`` (or ``[CLS] A [SEP]``)
padded on the right with ``[PAD]``; its segment ids are 0 up to the first ``[SEP]`` and 1 after it
(0 on padding, as BERT's ``token_type_ids``). Labels use ``IGNORE_INDEX = -100`` where there is no
target, the default ``ignore_index`` of ``F.cross_entropy``.

The model is built from chapter 8's NumPy blocks: three embeddings summed and normalized
(:class:`BertEmbeddings`), a stack of post-norm ``TransformerEncoderBlock``, and a masked-LM head
tied to the token embedding (:class:`Bert`); :class:`BertClassifier` reads the final state of
``[CLS]``. Its PyTorch twin, ``TinyBert``, is in :mod:`seqlab.bert_torch`; the weight conversions
in :mod:`seqlab.convert`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from seqlab.attention import LayerNorm, TransformerEncoderBlock
from seqlab.batching import pad_sequences
from seqlab.corpora import EOS, MarkovLanguage, Vocabulary
from seqlab.layers import Affine, Embedding, SoftmaxCrossEntropy
from seqlab.optim import Adam
from seqlab.progress import progress_bar

PAD, CLS, SEP, MASK = "[PAD]", "[CLS]", "[SEP]", "[MASK]"
PAD_ID, CLS_ID, SEP_ID, MASK_ID = 0, 1, 2, 3
FIRST_WORD_ID = 4
IGNORE_INDEX = -100


# ---------------------------------------------------------------------------------------------
# Vocabulary and sentences


def bert_vocabulary(words: Vocabulary) -> Vocabulary:
    """The four specials, then the words of ``words`` in their order, without ``<eos>`` (``[SEP]`` ends a sentence)."""
    return Vocabulary([PAD, CLS, SEP, MASK] + [t for t in words.tokens if t != EOS])


def split_sentences(ids: np.ndarray, words: Vocabulary, vocab: Vocabulary) -> list[np.ndarray]:
    """A stream of ``words`` ids, sentences ended by ``<eos>``, as a list of sentences in ``vocab`` ids.

    The ``<eos>`` are dropped and the unfinished sentence at the end of the stream too.
    """
    eos_id = words.id_of(EOS)
    to_bert = np.array([vocab.id_of(t) if t != EOS else -1 for t in words.tokens], dtype=np.int64)
    ends = np.flatnonzero(ids == eos_id)
    starts = np.concatenate([[0], ends[:-1] + 1])
    return [to_bert[ids[s:e]] for s, e in zip(starts, ends) if e > s]


def encode_inputs(firsts: list[np.ndarray], seconds: list[np.ndarray] | None = None,
                  length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``[CLS] A [SEP] B [SEP]`` for each pair (``[CLS] A [SEP]`` when ``seconds`` is None), padded.

    firsts, seconds: lists of N word-id arrays. Returns ``(input_ids, segment_ids)``, both (N, T)
    int64, T = ``length`` or the longest input.
    """
    if seconds is not None and len(seconds) != len(firsts):
        raise ValueError(f"firsts and seconds pair up one to one: got {len(firsts)} and {len(seconds)} sentences")
    sequences, segments = [], []
    for i, first in enumerate(firsts):
        ids = [CLS_ID, *first.tolist(), SEP_ID]
        segment = [0] * len(ids)
        if seconds is not None:
            ids += [*seconds[i].tolist(), SEP_ID]
            segment += [1] * (len(seconds[i]) + 1)
        sequences.append(ids)
        segments.append(segment)
    return pad_sequences(sequences, PAD_ID, length), pad_sequences(segments, 0, length)


# ---------------------------------------------------------------------------------------------
# The masked-LM recipe


def mask_tokens(input_ids: np.ndarray, rng: np.random.Generator, vocab_size: int,
                mask_prob: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """BERT's masking: choose 15% of each row's words; of those, 80% -> ``[MASK]``, 10% -> a random word, 10% kept.

    input_ids: (N, T). Only words (ids >= FIRST_WORD_ID) are candidates: never ``[CLS]``,
    ``[SEP]`` or ``[PAD]``. Each row with n > 0 words gets exactly
    ``max(1, round(mask_prob * n))`` chosen positions (``np.round``): a fixed count per row, as in
    Google's ``create_pretraining_data.py`` (which counts the specials in n), where Hugging Face's
    collator flips a coin per token. Exactly three draws are made, always, in this order:

    1. ``keys = rng.random((N, T))``: a row's chosen positions are its words with the smallest keys;
    2. ``actions = rng.random((N, T))``: a chosen position becomes ``[MASK]`` where ``actions < 0.8``,
       a random word where ``0.8 <= actions < 0.9``, and stays itself otherwise;
    3. ``random_words = rng.integers(FIRST_WORD_ID, vocab_size, size=(N, T))``: the random words
       (which may equal the original word, as in BERT).

    Returns ``(masked_ids, labels)``: the corrupted input, and (N, T) targets that hold the
    original id at every chosen position (whatever happened to it) and ``IGNORE_INDEX`` elsewhere.
    """
    input_ids = np.asarray(input_ids)
    if input_ids.ndim != 2:
        raise ValueError(f"input_ids must be (N, T), got shape {input_ids.shape}")
    if not 0 < mask_prob < 1:
        raise ValueError(f"mask_prob must be in (0, 1), got {mask_prob}")
    N, T = input_ids.shape
    keys = rng.random((N, T))
    actions = rng.random((N, T))
    random_words = rng.integers(FIRST_WORD_ID, vocab_size, size=(N, T))

    is_word = input_ids >= FIRST_WORD_ID
    n_words = is_word.sum(axis=1)
    n_chosen = np.where(n_words > 0, np.maximum(1, np.round(mask_prob * n_words)), 0).astype(np.int64)
    # The rank of each position's key within its row, non-words last: the n_chosen smallest are chosen.
    rank = np.argsort(np.argsort(np.where(is_word, keys, np.inf), axis=1, kind="stable"), axis=1, kind="stable")
    chosen = (rank < n_chosen[:, None]) & is_word

    masked_ids = input_ids.copy()
    to_mask = chosen & (actions < 0.8)
    to_random = chosen & (actions >= 0.8) & (actions < 0.9)
    masked_ids[to_mask] = MASK_ID
    masked_ids[to_random] = random_words[to_random]
    labels = np.where(chosen, input_ids, IGNORE_INDEX)
    return masked_ids, labels


# ---------------------------------------------------------------------------------------------
# The model, in NumPy


@dataclass
class BertConfig:
    """Sizes of :class:`Bert` and its twin ``TinyBert`` (BERT-base: D = 768, 12 heads, d_ff = 3072, 12 layers, 512 positions).

    Taught in: book/09_bert.md
    """

    vocab_size: int
    max_len: int = 32          # positions with a learned embedding
    D: int = 64                # width of every token's vector
    num_heads: int = 4
    d_ff: int = 128            # hidden width of the feed-forward sublayer
    num_layers: int = 2
    dropout: float = 0.0       # used by the PyTorch twin only: the NumPy model has no dropout


class BertEmbeddings:
    """BERT's input: ``LayerNorm(E_token[x_t] + E_segment[s_t] +
    E_position[t])``.

    Taught in: book/09_bert.md

    input_ids, segment_ids: (N, T) -> (N, T, D). Parameters: the three
    tables, token (V, D), segment (2, D), position (max_len, D), then the
    LayerNorm's gamma and beta.
    """

    param_names = ("token", "segment", "position", "norm.gamma", "norm.beta")

    def __init__(
        self,
        token: Embedding,
        segment: Embedding,
        position: Embedding,
        norm: LayerNorm,
    ):
        self.token, self.segment, self.position, self.norm = (
            token,
            segment,
            position,
            norm,
        )
        self.params = [
            token.params[0],
            segment.params[0],
            position.params[0],
            *norm.params,
        ]
        self.grads = [
            token.grads[0],
            segment.grads[0],
            position.grads[0],
            *norm.grads,
        ]

    @classmethod
    def init(
        cls, config: BertConfig, rng: np.random.Generator, dtype=np.float32
    ) -> "BertEmbeddings":
        """Normal(0, 0.02) tables, BERT's ``initializer_range``; the
        LayerNorm at gamma = 1, beta = 0."""
        table = lambda rows: Embedding(
            (0.02 * rng.standard_normal((rows, config.D))).astype(dtype)
        )
        return cls(
            table(config.vocab_size),
            table(2),
            table(config.max_len),
            LayerNorm.init(config.D, dtype),
        )

    def forward(
        self, input_ids: np.ndarray, segment_ids: np.ndarray
    ) -> np.ndarray:
        T, max_len = input_ids.shape[1], self.position.params[0].shape[0]
        if T > max_len:
            raise ValueError(
                f"inputs of {T} positions exceed the {max_len} position "
                "embeddings: truncate "
                "them or build the model with a larger max_len"
            )
        summed = (
            self.token.forward(input_ids)
            + self.segment.forward(segment_ids)
            + self.position.forward(np.arange(T))
        )  # (N, T, D) + (N, T, D) + (T, D)
        return self.norm.forward(summed)

    def backward(self, dout: np.ndarray) -> None:
        dsummed = self.norm.backward(dout)
        self.token.backward(dsummed)
        self.segment.backward(dsummed)
        # one position vector serves every sequence
        self.position.backward(dsummed.sum(axis=0))


class Bert:
    """BERT's encoder in NumPy: the embeddings, then ``num_layers`` post-norm
    Transformer encoder blocks.

    Taught in: book/09_bert.md

    forward(input_ids, segment_ids): (N, T) each -> the final states (N, T,
    D); padding is masked out of attention as a key (its own states are
    computed, and never read by a real position). backward(dstates) writes
    every parameter's gradient. Parameters: the embeddings', then each
    block's, in ``param_names``' order. Equal to
    ``seqlab.bert_torch.TinyBert`` in evaluation mode.
    """

    def __init__(
        self,
        embeddings: BertEmbeddings,
        blocks: list[TransformerEncoderBlock],
    ):
        self.embeddings, self.blocks = embeddings, list(blocks)
        self.params = embeddings.params + [
            p for block in self.blocks for p in block.params
        ]
        self.grads = embeddings.grads + [
            g for block in self.blocks for g in block.grads
        ]
        self.param_names = tuple(
            [f"embeddings.{name}" for name in embeddings.param_names]
            + [
                f"blocks.{i}.{name}"
                for i, block in enumerate(self.blocks)
                for name in block.param_names
            ]
        )

    @classmethod
    def init(
        cls, config: BertConfig, rng: np.random.Generator, dtype=np.float32
    ) -> "Bert":
        blocks = [
            TransformerEncoderBlock.init(
                config.D, config.num_heads, config.d_ff, rng, dtype=dtype
            )
            for _ in range(config.num_layers)
        ]
        return cls(BertEmbeddings.init(config, rng, dtype), blocks)

    def forward(
        self, input_ids: np.ndarray, segment_ids: np.ndarray
    ) -> np.ndarray:
        # (N, 1, 1, T): every query may read every non-pad key
        attend = (input_ids != PAD_ID)[:, None, None, :]
        x = self.embeddings.forward(input_ids, segment_ids)
        for block in self.blocks:
            x = block.forward(x, attend)
        return x

    def backward(self, dstates: np.ndarray) -> None:
        for block in reversed(self.blocks):
            dstates = block.backward(dstates)
        self.embeddings.backward(dstates)


class MaskedLMHead:
    """The masked-LM output layer, tied to the token embedding: ``logits =
    states @ E_token.T + bias``.

    Taught in: book/09_bert.md

    states: (..., D) -> logits (..., V). Its one parameter of its own is
    ``bias: (V,)``; the weight is the embedding table ``E_token: (V, D)``, so
    backward leaves this use's gradient of the table in ``dtable``, to be
    added to the embedding's own (:func:`mlm_loss_and_grads`).
    """

    param_names = ("bias",)

    def __init__(self, token_embedding: Embedding, bias: np.ndarray):
        if bias.shape != (token_embedding.params[0].shape[0],):
            raise ValueError(
                "the bias needs one entry per word, shape "
                f"({token_embedding.params[0].shape[0]},), "
                f"got {bias.shape}"
            )
        # the same array: what training changes, both uses see
        self.table = token_embedding.params[0]
        self.params, self.grads = [bias], [np.zeros_like(bias)]
        self.dtable = np.zeros_like(self.table)
        self.states = None

    def forward(self, states: np.ndarray) -> np.ndarray:
        self.states = states
        return states @ self.table.T + self.params[0]

    def backward(self, dlogits: np.ndarray) -> np.ndarray:
        V, D = self.table.shape
        self.grads[0][...] = dlogits.reshape(-1, V).sum(axis=0)
        self.dtable[...] = dlogits.reshape(-1, V).T @ self.states.reshape(
            -1, D
        )
        return dlogits @ self.table


def mlm_loss_and_grads(
    bert: Bert,
    head: MaskedLMHead,
    masked_ids: np.ndarray,
    segment_ids: np.ndarray,
    labels: np.ndarray,
) -> float:
    """The masked-LM loss of one batch, and every gradient of ``bert`` and
    ``head`` written in place.

    The loss is the mean cross-entropy of the original word at the chosen
    positions only (``labels != IGNORE_INDEX``), as ``F.cross_entropy(...,
    ignore_index=-100)``.
    """
    chosen = labels != IGNORE_INDEX
    if not chosen.any():
        raise ValueError(
            "labels choose no position (all are IGNORE_INDEX): there is "
            "nothing to predict"
        )
    states = bert.forward(masked_ids, segment_ids)
    loss_layer = SoftmaxCrossEntropy()
    # (M, V) scores, M chosen positions
    loss = loss_layer.forward(head.forward(states[chosen]), labels[chosen])
    dstates = np.zeros_like(states)
    dstates[chosen] = head.backward(loss_layer.backward())
    bert.backward(dstates)
    # the tied table: the gradients of its two uses add up
    bert.embeddings.grads[0] += head.dtable
    return loss


class BertClassifier:
    """A sentence classifier on the final state of ``[CLS]``: BERT's pooler
    ``tanh(h W_p + b_p)``, then an affine layer.

    Taught in: book/09_bert.md

    forward(input_ids, segment_ids) -> logits (N, C); backward(dlogits)
    writes the gradients of the pooler, the output layer and the whole
    encoder (fine-tuning changes every weight).
    """

    def __init__(self, bert: Bert, pooler: Affine, output: Affine):
        self.bert, self.pooler, self.output = bert, pooler, output
        self.params = bert.params + pooler.params + output.params
        self.grads = bert.grads + pooler.grads + output.grads
        self.cache = None

    @classmethod
    def init(
        cls, bert: Bert, num_classes: int, rng: np.random.Generator
    ) -> "BertClassifier":
        D, dtype = bert.params[0].shape[1], bert.params[0].dtype
        return cls(
            bert,
            Affine.init(D, D, rng, dtype),
            Affine.init(D, num_classes, rng, dtype),
        )

    def forward(
        self, input_ids: np.ndarray, segment_ids: np.ndarray
    ) -> np.ndarray:
        states = self.bert.forward(input_ids, segment_ids)
        # (N, D): position 0 is [CLS]
        pooled = np.tanh(self.pooler.forward(states[:, 0]))
        self.cache = (states.shape, pooled)
        return self.output.forward(pooled)

    def backward(self, dlogits: np.ndarray) -> None:
        shape, pooled = self.cache
        dstates = np.zeros(shape, dtype=dlogits.dtype)
        dstates[:, 0] = self.pooler.backward(
            self.output.backward(dlogits) * (1 - pooled**2)
        )
        self.bert.backward(dstates)


# ---------------------------------------------------------------------------------------------
# Training and evaluation, in NumPy


@dataclass
class MLMHistory:
    """What :func:`pretrain_mlm` logged: the step numbers and the mean MLM loss over the steps before each."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    metric: list[float] = field(default_factory=list)  # what ``evaluate`` returned at each logged step


def pretrain_mlm(bert: Bert, head: MaskedLMHead, input_ids: np.ndarray, segment_ids: np.ndarray, steps: int,
                 batch_size: int = 64, lr: float = 2e-3, seed: int = 0, log_every: int = 50,
                 evaluate: Callable[[], float] | None = None, progress: bool = True) -> MLMHistory:
    """Masked-LM pre-training with Adam: each step masks a random batch afresh (dynamic masking, as RoBERTa).

    input_ids, segment_ids: (M, T) unmasked inputs. Returns the mean loss every ``log_every`` steps,
    and what ``evaluate()`` returns then, if given (a validation score). A progress bar shows unless ``progress=False`` (or ``TQDM_DISABLE=1``).
    """
    rng = np.random.default_rng(seed)
    optimizer = Adam(lr=lr)
    params, grads = bert.params + head.params, bert.grads + head.grads
    history, running = MLMHistory(), []
    for step in progress_bar(range(1, steps + 1), enabled=progress, desc="pretrain_mlm", unit="step", leave=False):
        rows = rng.integers(0, len(input_ids), size=batch_size)
        masked, labels = mask_tokens(input_ids[rows], rng, len(head.params[0]))
        running.append(mlm_loss_and_grads(bert, head, masked, segment_ids[rows], labels))
        optimizer.update(params, grads)
        if step % log_every == 0:
            history.steps.append(step)
            history.loss.append(float(np.mean(running)))
            if evaluate is not None:
                history.metric.append(evaluate())
            running = []
    return history


def mlm_predictions(bert: Bert, head: MaskedLMHead, masked_ids: np.ndarray, segment_ids: np.ndarray,
                    batch_size: int = 512) -> np.ndarray:
    """The model's best guess at every position, (N, T) word ids (specials excluded from the guesses)."""
    guesses = []
    for start in range(0, len(masked_ids), batch_size):
        rows = slice(start, start + batch_size)
        logits = head.forward(bert.forward(masked_ids[rows], segment_ids[rows]))
        guesses.append(FIRST_WORD_ID + logits[..., FIRST_WORD_ID:].argmax(axis=-1))
    return np.concatenate(guesses)


def train_classifier(model: BertClassifier, input_ids: np.ndarray, segment_ids: np.ndarray, labels: np.ndarray,
                     epochs: int, batch_size: int = 32, lr: float = 1e-3, seed: int = 0) -> list[float]:
    """Fine-tune (or train from scratch) every parameter with Adam; returns the mean loss of each epoch."""
    rng = np.random.default_rng(seed)
    optimizer, loss_layer, losses = Adam(lr=lr), SoftmaxCrossEntropy(), []
    for _ in range(epochs):
        order, epoch_losses = rng.permutation(len(labels)), []
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            epoch_losses.append(loss_layer.forward(model.forward(input_ids[rows], segment_ids[rows]), labels[rows]))
            model.backward(loss_layer.backward())
            optimizer.update(model.params, model.grads)
        losses.append(float(np.mean(epoch_losses)))
    return losses


def classification_accuracy(model: BertClassifier, input_ids: np.ndarray, segment_ids: np.ndarray,
                            labels: np.ndarray) -> float:
    return float((model.forward(input_ids, segment_ids).argmax(axis=-1) == labels).mean())

# ---------------------------------------------------------------------------------------------
# A sentence-level task on the synthetic language


def replaced_word_task(language: MarkovLanguage, vocab: Vocabulary, n: int, rng: np.random.Generator
                       ) -> tuple[list[np.ndarray], np.ndarray]:
    """``n`` sentences in ``vocab`` ids, and labels: 1 for a sentence of the language, 0 for one with a word replaced.

    Half the sentences (at random) get one word, at a random position, replaced by a word drawn
    uniformly from the language's words; a replacement that leaves the sentence grammatical
    (:meth:`MarkovLanguage.is_grammatical`) is drawn again, so that every label is right.
    """
    candidates = [t for t in language.vocab.tokens if t != EOS]
    sentences, labels = [], (rng.random(n) < 0.5).astype(np.int64)
    for label, sentence in zip(labels.tolist(), language.sample_sentences(n, rng)):
        tokens = sentence[:-1]                      # without <eos>
        while label == 0:
            candidate = list(tokens)
            candidate[int(rng.integers(len(tokens)))] = candidates[int(rng.integers(len(candidates)))]
            if not language.is_grammatical(candidate + [EOS]):
                tokens = candidate
                break
        sentences.append(vocab.encode(tokens))
    return sentences, labels


def pretrain_and_fine_tune(seed: int, config: BertConfig, pretrain_data: tuple[np.ndarray, np.ndarray],
                           cloze_data: tuple[np.ndarray, np.ndarray, np.ndarray], task_train: tuple, task_test: tuple,
                           pretrain_steps: int, log_every: int, fine_tune: dict) -> dict:
    """One seed of chapter 9's experiment: pre-train a :class:`Bert`, then fine-tune it and the same untrained model.

    pretrain_data: (ids, segments) of unmasked sentences. cloze_data: (masked ids, segments,
    original ids), whose ``[MASK]`` positions are scored during pre-training. task_train,
    task_test: (ids, segments, labels). fine_tune: keyword arguments of :func:`train_classifier`.
    The model from scratch starts from the very weights pre-training started from, and both
    classifiers get the same head, batches and recipe. Returns the logs and accuracies as plain data.
    """
    rng = np.random.default_rng(seed)
    bert = Bert.init(config, rng)
    head = MaskedLMHead(bert.embeddings.token, np.zeros(config.vocab_size, bert.params[0].dtype))
    untrained = copy.deepcopy(bert)
    cloze_ids, cloze_segments, cloze_targets = cloze_data
    scored = cloze_ids == MASK_ID

    def cloze_accuracy() -> float:
        guesses = mlm_predictions(bert, head, cloze_ids, cloze_segments)
        return float((guesses[scored] == cloze_targets[scored]).mean())

    history = pretrain_mlm(bert, head, *pretrain_data, steps=pretrain_steps, seed=seed, log_every=log_every,
                           evaluate=cloze_accuracy, progress=False)
    result = {"steps": history.steps, "mlm_loss": history.loss, "cloze_accuracy": history.metric}
    for name, encoder in (("pre-trained", bert), ("from scratch", untrained)):
        classifier = BertClassifier.init(copy.deepcopy(encoder), 2, np.random.default_rng(1000 + seed))
        losses = train_classifier(classifier, *task_train, seed=seed, **fine_tune)
        result[name] = {"losses": losses, "accuracy": classification_accuracy(classifier, *task_test)}
    result["bert"], result["head"] = bert, head
    return result
