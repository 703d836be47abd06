"""Language-model utilities: perplexity, n-gram baselines, the truncated-BPTT batch layout,
evaluation and the training loop.

Taught in: book/02_rnn.md

Every model here is scored on the same targets: the tokens ``ids[1:]`` of a stream, each predicted
from the tokens before it. Cross-entropies are in nats per predicted token, and the perplexity is
their exponential: the size of a uniform choice that would be as surprising.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from seqlab.optim import clip_grads_by_global_norm
from seqlab.progress import progress_bar


def perplexity(mean_nll: float) -> float:
    """``exp(mean cross-entropy in nats)``: 1 for a model that is always sure and right, V for uniform guessing."""
    return math.exp(mean_nll)


def _check_stream(name: str, ids, V: int | None = None, minimum_length: int = 2) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"{name} must be a stream of token ids, (L,) integers, got {ids.dtype} of shape {ids.shape}")
    if len(ids) < minimum_length:
        raise ValueError(f"{name} has {len(ids)} tokens; at least {minimum_length} are needed (a token and the one it predicts)")
    if V is not None and (ids.min() < 0 or ids.max() >= V):
        raise ValueError(f"{name} holds ids in [{ids.min()}, {ids.max()}], outside the vocabulary [0, {V - 1}]")
    return ids


def _check_training_layout(ids: np.ndarray, rng, **sizes: int) -> None:
    """Every size must be a positive integer, and ``ids`` must hold one whole block of
    ``batch_size`` rows of ``time_size`` steps (plus the token the last step predicts), even when
    ``rng`` drops up to ``time_size - 1`` tokens at the start of an epoch."""
    for name, value in sizes.items():
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    batch_size, time_size = sizes["batch_size"], sizes["time_size"]
    shortest_epoch = len(ids) - (time_size - 1 if rng is not None else 0)
    if shortest_epoch < batch_size * time_size + 1:
        raise ValueError(f"ids has {len(ids)} tokens, too few for one block of batch_size={batch_size} rows of "
                         f"time_size={time_size} steps: lower batch_size or time_size")


# ---------------------------------------------------------------------------------------------
# n-gram baselines
# ---------------------------------------------------------------------------------------------

class NGramLM:
    """An add-k smoothed n-gram model: ``P(w | c) = (count(c, w) + k) / (count(c) + k V)``.

    Taught in: book/02_rnn.md

    The context c is the n - 1 tokens before w (none for the unigram model, n = 1). Targets are
    ``ids[1:]``, as for an RNN language model; the first n - 2 targets of a stream have contexts
    that reach before its start, padded with a start symbol. A context never seen in training
    gives the uniform distribution. ``k`` is chosen on validation text with :func:`best_add_k`.
    """

    def __init__(self, order: int, V: int, k: float = 1.0):
        if not isinstance(order, int) or order < 1:
            raise ValueError(f"order is n of the n-gram (1 unigram, 2 bigram), an integer >= 1; got {order!r}")
        if not isinstance(V, (int, np.integer)) or V < 1:
            raise ValueError(f"V is the vocabulary size, an integer >= 1; got {V!r}")
        if (V + 1) ** order >= 2**62:
            raise ValueError(f"order={order} with V={V} has too many contexts to index: use a smaller order")
        if not k > 0:
            raise ValueError(f"k (add-k smoothing) must be positive, or unseen tokens get probability 0; got k={k}")
        self.order, self.V, self.k = order, int(V), float(k)
        self._ngram_codes = self._ngram_counts = self._context_codes = self._context_counts = None

    def _codes(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Integer codes of (context, target) and of context for every target ``ids[1:]``."""
        base = self.V + 1  # digit 0 is the start symbol; token w is digit w + 1
        padded = np.concatenate([np.zeros(self.order - 1, np.int64), ids.astype(np.int64) + 1])
        # Target ids[t] (t >= 1) sits at padded[t + n - 1]; its context is the n - 1 entries before.
        n_targets = len(ids) - 1
        context = np.zeros(n_targets, np.int64)
        for j in range(self.order - 1):
            context = context * base + padded[1 + j: 1 + j + n_targets]
        return context * base + padded[self.order:], context

    def fit(self, ids: np.ndarray) -> "NGramLM":
        """Count the n-grams of the stream ``ids``; returns self."""
        ids = _check_stream("ids", ids, self.V)
        ngrams, contexts = self._codes(ids)
        self._ngram_codes, self._ngram_counts = np.unique(ngrams, return_counts=True)
        self._context_codes, self._context_counts = np.unique(contexts, return_counts=True)
        return self

    @staticmethod
    def _lookup(sorted_codes: np.ndarray, counts: np.ndarray, codes: np.ndarray) -> np.ndarray:
        pos = np.minimum(np.searchsorted(sorted_codes, codes), len(sorted_codes) - 1)
        return np.where(sorted_codes[pos] == codes, counts[pos], 0)

    def _target_counts(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """count(c, w) and count(c) for every target of ``ids``."""
        if self._ngram_codes is None:
            raise RuntimeError("this NGramLM has not been fitted: call fit(train_ids) first")
        ids = _check_stream("ids", ids, self.V)
        ngrams, contexts = self._codes(ids)
        return (self._lookup(self._ngram_codes, self._ngram_counts, ngrams),
                self._lookup(self._context_codes, self._context_counts, contexts))

    def _cross_entropy_from_counts(self, pair_counts: np.ndarray, context_counts: np.ndarray, k: float) -> float:
        return float(-np.mean(np.log((pair_counts + k) / (context_counts + k * self.V))))

    def cross_entropy(self, ids: np.ndarray) -> float:
        """Mean negative log-likelihood of ``ids[1:]``, in nats per token."""
        return self._cross_entropy_from_counts(*self._target_counts(ids), self.k)

    def perplexity(self, ids: np.ndarray) -> float:
        return perplexity(self.cross_entropy(ids))

    def next_token_probs(self, context: Sequence[int]) -> np.ndarray:
        """P(. | context): (V,), from the last n - 1 tokens of ``context`` (ids)."""
        if self._ngram_codes is None:
            raise RuntimeError("this NGramLM has not been fitted: call fit(train_ids) first")
        if len(context) < self.order - 1:
            raise ValueError(f"a {self.order}-gram needs {self.order - 1} tokens of context, got {len(context)}")
        base = self.V + 1
        context_code = 0
        for token in list(context)[len(context) - (self.order - 1):] if self.order > 1 else []:
            context_code = context_code * base + int(token) + 1
        ngrams = context_code * base + np.arange(self.V) + 1
        pair_counts = self._lookup(self._ngram_codes, self._ngram_counts, ngrams)
        context_count = self._lookup(self._context_codes, self._context_counts, np.array([context_code]))[0]
        return (pair_counts + self.k) / (context_count + self.k * self.V)


def best_add_k(order: int, train: np.ndarray, valid: np.ndarray, V: int,
               candidates: Sequence[float] | None = None) -> float:
    """The add-k constant, among ``candidates`` (default 41 values from 1e-4 to 10, log-spaced),
    that minimizes the validation cross-entropy of an n-gram model fitted on ``train``."""
    candidates = np.logspace(-4, 1, 41) if candidates is None else np.asarray(candidates, dtype=float)
    if candidates.size == 0 or (candidates <= 0).any():
        raise ValueError("candidates must be a non-empty list of positive k values")
    model = NGramLM(order, V).fit(train)
    counts = model._target_counts(valid)
    losses = [model._cross_entropy_from_counts(*counts, k) for k in candidates]
    return float(candidates[int(np.argmin(losses))])


# ---------------------------------------------------------------------------------------------
# Truncated BPTT: the batch layout
# ---------------------------------------------------------------------------------------------

def bptt_index_layout(n_tokens: int, batch_size: int, time_size: int) -> np.ndarray:
    """The corpus positions that the inputs ``xs`` of each block read: (n_blocks, N, T).

    Row n reads its own stretch of the stream, from offset ``n * jump`` with
    ``jump = (n_tokens - 1) // N``, in consecutive blocks of T: block b + 1 of row n continues block
    b of row n exactly, so the RNN state carried from block b is the state of the same text. The
    targets ``ts`` read the positions one further. The stretches do not overlap; the fewer than T
    tokens left at the end of each stretch are not read (``evaluate_perplexity`` reads them too).
    """
    for name, value in (("n_tokens", n_tokens), ("batch_size", batch_size), ("time_size", time_size)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    jump = (n_tokens - 1) // batch_size
    n_blocks = jump // time_size
    if n_blocks == 0:
        raise ValueError(f"a stream of {n_tokens} tokens is too short for batch_size={batch_size} rows of "
                         f"time_size={time_size} steps: it needs at least batch_size * time_size + 1 = "
                         f"{batch_size * time_size + 1} tokens; lower batch_size or time_size")
    offsets = np.arange(batch_size) * jump  # (N,)
    steps = np.arange(n_blocks * time_size).reshape(n_blocks, 1, time_size)  # (n_blocks, 1, T)
    return offsets[None, :, None] + steps  # (n_blocks, N, T)


def bptt_batches(ids: np.ndarray, batch_size: int,
                 time_size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """One epoch of truncated-BPTT blocks: a list of ``(xs, ts)``.

    Each is (N, T) int64; ``ts`` holds the tokens that follow ``xs``.
    """
    ids = _check_stream("ids", ids)
    layout = bptt_index_layout(len(ids), batch_size, time_size)
    return [(ids[positions], ids[positions + 1]) for positions in layout]


def evaluate_perplexity(model, ids: np.ndarray, batch_size: int, time_size: int) -> float:
    """Perplexity of a stateful language model on the stream ``ids``, without any backward pass.

    The model's state is reset, then carried across the blocks of :func:`bptt_index_layout`, plus
    one shorter block per row for the tail of its stretch, so that every one of the
    ``N * ((L - 1) // N)`` targets is scored once (the fewer than N left at the end are not; with
    ``batch_size=1`` every target ``ids[1:]`` is). Returns ``exp(total nll / total targets)``.
    """
    ids = _check_stream("ids", ids)
    jump = (len(ids) - 1) // batch_size
    full_blocks = jump // time_size
    model.reset_state()
    total_nll, total_targets = 0.0, 0
    if full_blocks:
        for xs, ts in bptt_batches(ids, batch_size, time_size):
            total_nll += model.forward(xs, ts) * ts.size  # forward returns the mean over the block
            total_targets += ts.size
    tail = jump - full_blocks * time_size
    if tail:
        positions = np.arange(batch_size)[:, None] * jump + full_blocks * time_size + np.arange(tail)  # (N, tail)
        ts = ids[positions + 1]
        total_nll += model.forward(ids[positions], ts) * ts.size
        total_targets += ts.size
    if total_targets == 0:
        raise ValueError(f"a stream of {len(ids)} tokens gives no target to each of batch_size={batch_size} rows: "
                         "lower batch_size")
    model.reset_state()  # the next caller should not inherit the state of the evaluation text
    return perplexity(total_nll / total_targets)


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------

def cosine_lr(peak_lr: float, total_steps: int, final_lr: float = 0.0) -> Callable[[int], float]:
    """A learning-rate schedule for :func:`train_lm`: ``peak_lr`` at step 0, down to ``final_lr``
    at ``total_steps`` along half a cosine. Large steps early move fast; small steps late let the
    weights settle instead of rattling around the minimum at the size of the step."""
    if not peak_lr > 0 or not 0 <= final_lr <= peak_lr:
        raise ValueError(f"need peak_lr > 0 and 0 <= final_lr <= peak_lr, got peak_lr={peak_lr}, final_lr={final_lr}")
    if not isinstance(total_steps, (int, np.integer)) or total_steps < 1:
        raise ValueError(f"total_steps must be a positive integer, got {total_steps!r}")

    def schedule(step: int) -> float:
        progress = min(step / total_steps, 1.0)
        return final_lr + (peak_lr - final_lr) * 0.5 * (1 + math.cos(math.pi * progress))

    return schedule


@dataclass
class TrainHistory:
    """What :func:`train_lm` measured. Lists indexed by evaluation point (every ``eval_every`` steps, and the end).

    Taught in: book/02_rnn.md

    ``train_perplexity`` is the exponential of the mean training loss since the previous point
    (a running value over those blocks, with the weights changing as it is measured);
    ``valid_perplexity`` is scored on the validation stream at that point (empty without one);
    ``seconds`` is the wall-clock time since training started, validation included.
    ``losses`` holds every step's training loss, in nats per token.
    """

    steps: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    train_perplexity: list[float] = field(default_factory=list)
    valid_perplexity: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list, repr=False)
    epochs: int = 0

    @property
    def total_steps(self) -> int:
        return len(self.losses)

    @property
    def total_seconds(self) -> float:
        return self.seconds[-1] if self.seconds else 0.0


def train_lm(model, optimizer, ids: np.ndarray, *, batch_size: int, time_size: int, max_steps: int | None = None,
             max_seconds: float | None = None, max_epochs: int | None = None, max_grad_norm: float | None = None,
             valid_ids: np.ndarray | None = None, eval_every: int = 100, eval_batch_size: int | None = None,
             rng: np.random.Generator | None = None, lr_schedule: Callable[[int], float] | None = None,
             progress: bool = True) -> TrainHistory:
    """Train a stateful language model by truncated BPTT; returns its :class:`TrainHistory`.

    Each epoch resets the state and walks the blocks of :func:`bptt_batches`: forward, backward,
    optional clipping by global norm (``max_grad_norm``), ``optimizer.update(params, grads)``.
    With ``rng``, each epoch first drops a random 0 .. T-1 tokens from the start of the stream, so
    that block boundaries move from epoch to epoch. Training stops at the first of ``max_steps``,
    ``max_epochs`` and ``max_seconds`` (wall clock: for reproducible results, stop by steps or epochs).
    ``lr_schedule(step)``, if given, sets ``optimizer.lr`` before each update (step counts from 0;
    see :func:`cosine_lr`). Validation runs on a copy of the model, so it does not disturb the state
    that training carries.
    """
    ids = _check_stream("ids", ids)
    if max_steps is None and max_seconds is None and max_epochs is None:
        raise ValueError("train_lm needs a stopping rule: pass max_steps (reproducible), max_epochs or max_seconds")
    for name, value in (("max_steps", max_steps), ("max_epochs", max_epochs), ("eval_every", eval_every)):
        if value is not None and (not isinstance(value, (int, np.integer)) or value < 1):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be positive, got {max_seconds}")
    if valid_ids is not None:
        valid_ids = _check_stream("valid_ids", valid_ids)
    _check_training_layout(ids, rng, batch_size=batch_size, time_size=time_size)
    eval_batch_size = batch_size if eval_batch_size is None else eval_batch_size

    history = TrainHistory()
    start = time.perf_counter()
    since_last_point: list[float] = []

    def record_point() -> None:
        history.steps.append(len(history.losses))
        history.train_perplexity.append(perplexity(float(np.mean(since_last_point))) if since_last_point else math.nan)
        since_last_point.clear()
        if valid_ids is not None:
            history.valid_perplexity.append(evaluate_perplexity(copy.deepcopy(model), valid_ids, eval_batch_size, time_size))
        history.seconds.append(time.perf_counter() - start)

    bar = progress_bar(total=max_steps, enabled=progress, desc="train_lm", unit="step", leave=False)
    done = False
    while not done:
        offset = int(rng.integers(time_size)) if rng is not None else 0
        model.reset_state()
        for xs, ts in bptt_batches(ids[offset:], batch_size, time_size):
            loss = model.forward(xs, ts)
            if not math.isfinite(loss):
                raise FloatingPointError(f"the training loss became {loss} at step {len(history.losses)}: "
                                         "lower the learning rate or clip gradients (max_grad_norm)")
            model.backward()
            if max_grad_norm is not None:
                clip_grads_by_global_norm(model.grads, max_grad_norm)
            if lr_schedule is not None:
                optimizer.lr = lr_schedule(len(history.losses))
            optimizer.update(model.params, model.grads)
            history.losses.append(loss)
            since_last_point.append(loss)
            bar.update(1)
            step = len(history.losses)
            if step % eval_every == 0:
                record_point()
                bar.set_postfix(train_ppl=f"{history.train_perplexity[-1]:.2f}",
                                **({"valid_ppl": f"{history.valid_perplexity[-1]:.2f}"} if history.valid_perplexity else {}))
            if (max_steps is not None and step >= max_steps) or \
                    (max_seconds is not None and time.perf_counter() - start >= max_seconds):
                done = True
                break
        else:
            history.epochs += 1
            done = max_epochs is not None and history.epochs >= max_epochs
    bar.close()
    if not history.steps or history.steps[-1] != len(history.losses):
        record_point()
    return history


_EXPERIMENT_CORPORA: dict = {}


def lm_experiment(model: str, corpus: str, seed: int, *, D: int, H: int, batch_size: int, time_size: int,
                  lr: float, steps: int, eval_batch_size: int = 32, **model_options) -> dict:
    """Build, train and score one language model; a plain dict of results, for worker processes.

    Taught in: book/04_lstm.md

    ``model`` is ``"RNN LM"``, ``"LSTM LM"``, ``"GRU LM"``, ``"stacked RNN LM"`` (with
    ``model_options`` such as ``num_layers``) or ``"better LSTM LM"`` (the classes of
    :mod:`seqlab.models`, the last with ``D = H`` and ``model_options`` such as ``dropout``);
    ``corpus`` is ``"agreement"`` (:func:`seqlab.corpora.agreement_corpus`), ``"synthetic"`` or
    ``"stdlib docstrings"``, each rebuilt from its default seed, so that every run sees the same
    text. ``seed`` draws the initial weights and the per-epoch shift of the blocks. Training is
    chapter 2's recipe: :func:`train_lm` with Adam at ``lr`` along :func:`cosine_lr` over ``steps``
    steps of ``batch_size`` rows of ``time_size`` tokens, no clipping; the test perplexity is
    :func:`evaluate_perplexity` with dropout off. Returns ``perplexity``, ``parameters``,
    ``cpu_seconds`` and, for a synthetic corpus, the ``optimum`` (``source.optimal_perplexity()``).
    """
    from seqlab.corpora import agreement_corpus, stdlib_docstrings_corpus, synthetic_corpus
    from seqlab.models import GRULM, RNNLM, BetterLSTMLM, LSTMLM, StackedRNNLM
    from seqlab.optim import Adam

    corpora = {"agreement": agreement_corpus, "synthetic": synthetic_corpus, "stdlib docstrings": stdlib_docstrings_corpus}
    builders = {"RNN LM": lambda V, rng: RNNLM(V, D, H, rng), "LSTM LM": lambda V, rng: LSTMLM(V, D, H, rng),
                "GRU LM": lambda V, rng: GRULM(V, D, H, rng),
                "stacked RNN LM": lambda V, rng: StackedRNNLM(V, D, H, rng, **model_options),
                "better LSTM LM": lambda V, rng: BetterLSTMLM(V, H, H, rng, **model_options)}
    if model not in builders or corpus not in corpora:
        raise ValueError(f"model must be one of {sorted(builders)} and corpus one of {sorted(corpora)}, "
                         f"got {model!r} and {corpus!r}")
    if corpus not in _EXPERIMENT_CORPORA:  # one build per process: a worker runs many models on one corpus
        _EXPERIMENT_CORPORA[corpus] = corpora[corpus]()
    data = _EXPERIMENT_CORPORA[corpus]
    start = time.process_time()
    lm = builders[model](len(data.vocab), np.random.default_rng(seed))
    train_lm(lm, Adam(lr), data.train, batch_size=batch_size, time_size=time_size, max_steps=steps,
             lr_schedule=cosine_lr(lr, steps), rng=np.random.default_rng(seed + 1), progress=False)
    if hasattr(lm, "eval"):
        lm.eval()
    result = dict(model=model, corpus=corpus, seed=seed,
                  perplexity=evaluate_perplexity(lm, data.test, batch_size=eval_batch_size, time_size=time_size),
                  parameters=int(sum(p.size for p in lm.params)), cpu_seconds=time.process_time() - start)
    if data.source is not None:
        result["optimum"] = data.source.optimal_perplexity()
    return result
