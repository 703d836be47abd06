"""A tiny BERT in PyTorch and its data: sentence pairs, masked-LM masking, next-sentence pairs.

Taught in: book/09_bert.md

Shapes: N sequences, T positions, D features, V the vocabulary of :func:`bert_vocabulary`, whose
first four ids are the specials ``[PAD] = 0``, ``[CLS] = 1``, ``[SEP] = 2``, ``[MASK] = 3``; every
id from ``FIRST_WORD_ID = 4`` on is a word. An input is ``[CLS] A [SEP] B [SEP]`` (or ``[CLS] A [SEP]``)
padded on the right with ``[PAD]``; its segment ids are 0 up to the first ``[SEP]`` and 1 after it
(0 on padding, as BERT's ``token_type_ids``). Labels use ``IGNORE_INDEX = -100`` where there is no
target, the default ``ignore_index`` of ``F.cross_entropy``.

The encoder is a stack of ``nn.TransformerEncoderLayer(D, h, d_ff, batch_first=True)`` in BERT's
post-norm placement: the layer chapter 8 proves equal to its NumPy ``TransformerEncoderBlock``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seqlab.batching import pad_sequences
from seqlab.corpora import EOS, MarkovLanguage, Vocabulary
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


def next_sentence_pairs(sentences: list[np.ndarray], rng: np.random.Generator
                        ) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Next-sentence-prediction pairs: sentence i with sentence i+1 half of the time, else a random sentence.

    Returns ``(firsts, seconds, labels)`` with ``labels: (M,)`` 0 where B follows A in the text and
    1 where B was drawn at random, the convention of Hugging Face's ``next_sentence_label``.
    (BERT draws the random B from another document; a stream of sentences has no documents.)
    """
    M = len(sentences) - 1
    labels = (rng.random(M) < 0.5).astype(np.int64)
    random_picks = rng.integers(0, len(sentences), size=M)
    firsts = sentences[:M]
    seconds = [sentences[j] if random_label else sentences[i + 1]
               for i, (random_label, j) in enumerate(zip(labels.tolist(), random_picks.tolist()))]
    return firsts, seconds, labels


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
# The model


@dataclass
class BertConfig:
    """Sizes of :class:`TinyBert` (BERT-base: D = 768, 12 heads, d_ff = 3072, 12 layers, 512 positions).

    Taught in: book/09_bert.md
    """

    vocab_size: int
    max_len: int = 32          # positions with a learned embedding
    D: int = 64                # width of every token's vector
    num_heads: int = 4
    d_ff: int = 128            # hidden width of the feed-forward sublayer
    num_layers: int = 2
    dropout: float = 0.1


class TinyBert(nn.Module):
    """Token + segment + position embeddings, LayerNorm, then ``num_layers`` post-norm encoder layers.

    Taught in: book/09_bert.md

    ``forward(input_ids, segment_ids)``, both (N, T), returns the final states (N, T, D); padding
    is masked out of attention. ``mlm_logits`` maps states to (N, T, V) scores over the vocabulary.
    ReLU in the feed-forward sublayer (chapter 8's block) where BERT uses GELU.
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        D = config.D
        self.token_embedding = nn.Embedding(config.vocab_size, D, padding_idx=PAD_ID)
        self.segment_embedding = nn.Embedding(2, D)
        self.position_embedding = nn.Embedding(config.max_len, D)
        self.embedding_norm = nn.LayerNorm(D)
        self.embedding_dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(D, config.num_heads, config.d_ff, config.dropout, batch_first=True,
                                       norm_first=False)
            for _ in range(config.num_layers))
        self.mlm_head = nn.Linear(D, config.vocab_size)

    def embed(self, input_ids: torch.Tensor, segment_ids: torch.Tensor) -> torch.Tensor:
        """The sum of the three embeddings, normalized: (N, T) ids -> (N, T, D)."""
        T = input_ids.shape[1]
        if T > self.config.max_len:
            raise ValueError(f"inputs of {T} positions exceed max_len={self.config.max_len}: truncate them "
                             "or build the model with a larger max_len")
        positions = torch.arange(T, device=input_ids.device)
        summed = self.token_embedding(input_ids) + self.segment_embedding(segment_ids) + self.position_embedding(positions)
        return self.embedding_dropout(self.embedding_norm(summed))

    def forward(self, input_ids: torch.Tensor, segment_ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(input_ids, segment_ids)
        ignore = input_ids == PAD_ID            # torch's key_padding_mask: True = ignore
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=ignore)
        return x

    def mlm_logits(self, states: torch.Tensor) -> torch.Tensor:
        return self.mlm_head(states)


class BertClassifier(nn.Module):
    """A sentence classifier on the final state of ``[CLS]``: BERT's pooler (Linear + tanh), then Linear.

    Taught in: book/09_bert.md
    """

    def __init__(self, bert: TinyBert, num_classes: int):
        super().__init__()
        self.bert = bert
        D = bert.config.D
        self.pooler = nn.Linear(D, D)
        self.dropout = nn.Dropout(bert.config.dropout)
        self.classifier = nn.Linear(D, num_classes)

    def forward(self, input_ids: torch.Tensor, segment_ids: torch.Tensor) -> torch.Tensor:
        cls_state = self.bert(input_ids, segment_ids)[:, 0]          # (N, D): position 0 is [CLS]
        return self.classifier(self.dropout(torch.tanh(self.pooler(cls_state))))


# ---------------------------------------------------------------------------------------------
# Training


@dataclass
class MLMHistory:
    """What :func:`pretrain_mlm` logged: the step numbers and the mean MLM loss over the steps before each."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)


def pretrain_mlm(model: TinyBert, input_ids: np.ndarray, segment_ids: np.ndarray, steps: int, batch_size: int = 64,
                 lr: float = 2e-3, seed: int = 0, log_every: int = 50, progress: bool = True) -> MLMHistory:
    """Masked-LM pre-training: each step masks a random batch afresh (dynamic masking, as RoBERTa).

    input_ids, segment_ids: (M, T) unmasked inputs. A fixed number of steps with Adam; the loss is
    the cross-entropy at the chosen positions only. Returns the mean loss every ``log_every`` steps.
    A progress bar shows unless ``progress=False`` (or ``TQDM_DISABLE=1``).
    """
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history, running = MLMHistory(), []
    model.train()
    steps_bar = progress_bar(range(1, steps + 1), enabled=progress, desc="pretrain_mlm", unit="step", leave=False)
    for step in steps_bar:
        rows = rng.integers(0, len(input_ids), size=batch_size)
        masked, labels = mask_tokens(input_ids[rows], rng, model.config.vocab_size)
        logits = model.mlm_logits(model(torch.from_numpy(masked), torch.from_numpy(segment_ids[rows])))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), torch.from_numpy(labels).reshape(-1),
                               ignore_index=IGNORE_INDEX)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running.append(loss.item())
        if step % log_every == 0:
            history.steps.append(step)
            history.loss.append(float(np.mean(running)))
            running = []
    model.eval()
    return history


@torch.no_grad()
def mlm_accuracy(model: TinyBert, masked_ids: np.ndarray, segment_ids: np.ndarray, labels: np.ndarray) -> float:
    """The share of chosen positions (``labels != IGNORE_INDEX``) whose original word the model ranks first."""
    model.eval()
    logits = model.mlm_logits(model(torch.from_numpy(masked_ids), torch.from_numpy(segment_ids)))
    chosen = labels != IGNORE_INDEX
    return float((logits.argmax(-1).numpy()[chosen] == labels[chosen]).mean())


def train_classifier(model: BertClassifier, input_ids: np.ndarray, segment_ids: np.ndarray, labels: np.ndarray,
                     epochs: int, batch_size: int = 32, lr: float = 1e-3, seed: int = 0) -> list[float]:
    """Fine-tune (or train from scratch) every parameter on a labelled set; returns the mean loss of each epoch."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    for _ in range(epochs):
        order, epoch_losses = rng.permutation(len(labels)), []
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            logits = model(torch.from_numpy(input_ids[rows]), torch.from_numpy(segment_ids[rows]))
            loss = F.cross_entropy(logits, torch.from_numpy(labels[rows]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            epoch_losses.append(loss.item())
        losses.append(float(np.mean(epoch_losses)))
    model.eval()
    return losses


@torch.no_grad()
def classification_accuracy(model: BertClassifier, input_ids: np.ndarray, segment_ids: np.ndarray,
                            labels: np.ndarray) -> float:
    model.eval()
    logits = model(torch.from_numpy(input_ids), torch.from_numpy(segment_ids))
    return float((logits.argmax(-1).numpy() == labels).mean())


# ---------------------------------------------------------------------------------------------
# A sentence-level task on the synthetic language


def swapped_word_task(language: MarkovLanguage, vocab: Vocabulary, n: int, rng: np.random.Generator
                      ) -> tuple[list[np.ndarray], np.ndarray]:
    """``n`` sentences in ``vocab`` ids, and labels: 1 for a sentence of the language, 0 for one with two neighbours swapped.

    Half the sentences (at random) get two adjacent words, at a random position, swapped; a swap
    that leaves the sentence grammatical (:meth:`MarkovLanguage.is_grammatical`) is drawn again,
    so that every label is right. Every word of a swapped sentence is a word of the language: only
    their order tells the two classes apart.
    """
    sentences, labels = [], (rng.random(n) < 0.5).astype(np.int64)
    for label, sentence in zip(labels.tolist(), language.sample_sentences(n, rng)):
        tokens = sentence[:-1]                      # without <eos>
        while label == 0:
            position = int(rng.integers(len(tokens) - 1))
            candidate = tokens.copy()
            candidate[position], candidate[position + 1] = candidate[position + 1], candidate[position]
            if not language.is_grammatical(candidate + [EOS]):
                tokens = candidate
                break
        sentences.append(vocab.encode(tokens))
    return sentences, labels
