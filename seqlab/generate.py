"""Generating sequences from a model of the next token: sampling (temperature, top-k), greedy
decoding and beam search, over any *step function*.

Taught in: book/06_generation.md

The step function is the one interface between a model and every decoder
here, for a language model (chapter 6) and for a seq2seq decoder (chapter 7)
alike::

    step_fn(last_ids, states) -> (log_probs, new_states)

    last_ids:   (B,) int, the token each of B sequences emitted last (the
                start token at first);
    states:     the model's memory of each sequence so far: an array with B
                rows, or a tuple, list or dict of such arrays (h and c of an
                LSTM, an encoder's output for a peeky decoder, ...), every
                one indexed by sequence on its FIRST axis;
    log_probs:  (B, V), log P(next token | sequence b so far) (unnormalized
                logits also work for sampling and greedy decoding, which
                only compare them within a row; beam search adds them up
                across steps, so it needs true log-probabilities);
    new_states: the states after reading ``last_ids``, with the same
                structure.

Because every state array is indexed by sequence on its first axis, a decoder can reorder, copy
and drop sequences with one fancy index, ``state[rows]``, without knowing what the states mean:
that is how beam search follows the hypotheses it keeps. :func:`lm_step_fn` wraps the package's
language models (RNNLM, LSTMLM, BetterLSTMLM) in this interface.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from seqlab.functional import log_softmax

State = Any  # None, an array (B, ...), or a tuple / list / dict of those, nested at will
StepFn = Callable[[np.ndarray, State], "tuple[np.ndarray, State]"]


# ---------------------------------------------------------------------------------------------
# States: every array indexed by sequence on its first axis
# ---------------------------------------------------------------------------------------------

def map_state(fn: Callable[[np.ndarray], np.ndarray], state: State) -> State:
    """Apply ``fn`` to every array of ``state`` (None, an array, or tuples / lists / dicts of them)."""
    if state is None:
        return None
    if isinstance(state, dict):
        return {key: map_state(fn, value) for key, value in state.items()}
    if isinstance(state, (tuple, list)):
        return type(state)(map_state(fn, value) for value in state)
    return fn(np.asarray(state))


def _state_rows(state: State) -> set[int]:
    """The first-axis lengths of the arrays in ``state`` (one value when it is well formed)."""
    rows: set[int] = set()

    def record(array: np.ndarray) -> np.ndarray:
        if array.ndim == 0:
            raise ValueError("every state array is indexed by sequence on its first axis: got a 0-d array; "
                             "give it a leading axis, e.g. np.full((N,), value)")
        rows.add(len(array))
        return array

    map_state(record, state)
    return rows


def _batch_size(initial_state: State, start_ids: np.ndarray | None = None) -> int:
    rows = _state_rows(initial_state)
    if start_ids is not None:
        rows.add(len(start_ids))
    if len(rows) > 1:
        raise ValueError(f"the initial state (and start ids) disagree on the number of sequences: first axes {sorted(rows)}; "
                         "index every state array by sequence on its first axis")
    return rows.pop() if rows else 1


def _checked_step(step_fn: StepFn, last_ids: np.ndarray, states: State, V: int | None) -> tuple[np.ndarray, State]:
    log_probs, new_states = step_fn(last_ids, states)
    log_probs = np.asarray(log_probs)
    B = len(last_ids)
    if log_probs.ndim != 2 or log_probs.shape[0] != B or (V is not None and log_probs.shape[1] != V):
        expected = f"({B}, {'V' if V is None else V})"
        raise ValueError(f"step_fn must return log_probs of shape {expected}, one row per sequence, got {log_probs.shape}")
    rows = _state_rows(new_states)
    if rows and rows != {B}:
        raise ValueError(f"step_fn returned states with first axes {sorted(rows)} for {B} sequences: "
                         "index every state array by sequence on its first axis")
    return log_probs, new_states


# ---------------------------------------------------------------------------------------------
# Sampling one token: temperature and top-k
# ---------------------------------------------------------------------------------------------

def sampling_distribution(
    logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None
) -> np.ndarray:
    """The distribution a sampler draws from: ``softmax(logits /
    temperature)`` over the top k: (B, V) -> (B, V) float64.

    logits: (B, V) scores (or log-probabilities) of the next token, or one
    row (V,). temperature > 1 flattens the distribution, < 1 sharpens it, and
    0 is its limit, the argmax: all the probability on the highest score
    (split evenly among tied maxima). top_k keeps the k highest scores of
    each row and gives the others probability 0; scores tied with the k-th
    highest are kept too, so that the result never depends on the order of
    the vocabulary. None (or k >= V) keeps every token. Top-k is applied
    before the temperature is (the order does not matter: dividing by a
    positive number keeps the ranking).
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim not in (1, 2) or logits.shape[-1] == 0:
        raise ValueError(
            "logits must be (B, V) or (V,) with V >= 1, got shape "
            f"{logits.shape}"
        )
    if not temperature >= 0:
        raise ValueError(
            "temperature must be >= 0 (0 is greedy decoding), got "
            f"{temperature}"
        )
    if top_k is not None and (
        not isinstance(top_k, (int, np.integer))
        or isinstance(top_k, bool)
        or top_k < 1
    ):
        raise ValueError(
            "top_k must be a positive integer, or None to keep every "
            f"token; got {top_k!r}"
        )
    if np.isnan(logits).any() or np.isposinf(logits).any():
        raise ValueError(
            "logits contain NaN or +inf: check the model's output"
        )
    if np.isneginf(logits).all(axis=-1).any():
        raise ValueError(
            "a row of logits is -inf everywhere: no token is possible"
        )
    if top_k is not None and top_k < logits.shape[-1]:
        # (B, 1)
        kth_largest = -np.partition(-logits, top_k - 1, axis=-1)[
            ..., top_k - 1 : top_k
        ]
        logits = np.where(logits >= kth_largest, logits, -np.inf)
    if temperature == 0:
        is_max = logits == logits.max(axis=-1, keepdims=True)
        return is_max / is_max.sum(axis=-1, keepdims=True)
    return np.exp(log_softmax(logits / temperature))


def sample_next(
    logits: np.ndarray,
    rng: np.random.Generator,
    temperature: float = 1.0,
    top_k: int | None = None,
) -> np.ndarray:
    """One token per row of ``logits`` (B, V), drawn from
    :func:`sampling_distribution`: (B,) int64.

    Temperature 0 is greedy decoding (the first of tied maxima) and draws no
    random number. Otherwise each row consumes exactly one ``rng.random()``,
    inverted through the row's cumulative distribution, so a seeded generator
    gives reproducible samples.
    """
    logits = np.asarray(logits)
    if logits.ndim != 2:
        raise ValueError(
            "logits must be (B, V), one row per sequence, got shape "
            f"{logits.shape}"
        )
    # argmax, with no randomness and no renormalization needed
    if temperature == 0:
        # validates the arguments
        sampling_distribution(logits[:0], temperature, top_k)
        return np.argmax(logits, axis=-1).astype(np.int64)
    probs = sampling_distribution(logits, temperature, top_k)
    cumulative = np.cumsum(probs, axis=-1)  # (B, V)
    uniforms = rng.random(len(probs))  # (B,)
    # The first token whose cumulative probability exceeds u, which never has
    # probability 0. The clip to the last possible token guards against the
    # cumulative sum rounding to just below 1.
    ids = (cumulative <= uniforms[:, None]).sum(axis=-1)
    last_possible = (
        probs.shape[-1] - 1 - np.argmax(probs[:, ::-1] > 0, axis=-1)
    )
    return np.minimum(ids, last_possible).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Decoding loops over a step function
# ---------------------------------------------------------------------------------------------

def generate(
    step_fn: StepFn,
    initial_state: State,
    start_ids,
    max_len: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    rng: np.random.Generator | None = None,
    end_id: int | None = None
) -> np.ndarray:
    """Generate N sequences token by token, feeding each token back in: (N,
    max_len) int64.

    start_ids: (N,) the first input of each sequence (a start token, or the
    last token of a prompt); initial_state: the states for those N sequences
    (see the module docstring). Each step draws the next token with
    :func:`sample_next`; ``temperature=0`` is greedy decoding and needs no
    ``rng``. A sequence that emits ``end_id`` is finished: its later
    positions hold ``end_id`` again, and the loop stops early once every
    sequence is finished (the result is still (N, max_len)).
    """
    start_ids = np.asarray(start_ids, dtype=np.int64).reshape(-1)
    if not isinstance(max_len, (int, np.integer)) or max_len < 1:
        raise ValueError(
            "max_len must be a positive integer (the number of tokens to "
            f"generate), got {max_len!r}"
        )
    if temperature != 0 and rng is None:
        raise ValueError(
            "sampling needs a random generator: pass "
            "rng=np.random.default_rng(seed), or temperature=0 for greedy "
            "decoding"
        )
    N = _batch_size(initial_state, start_ids)
    out = np.full(
        (N, max_len), -1 if end_id is None else end_id, dtype=np.int64
    )
    finished = np.zeros(N, dtype=bool)
    last_ids, states = start_ids, initial_state
    for t in range(max_len):
        log_probs, states = _checked_step(step_fn, last_ids, states, None)
        next_ids = sample_next(log_probs, rng, temperature, top_k)
        if end_id is not None:
            next_ids = np.where(finished, end_id, next_ids)
            finished |= next_ids == end_id
        out[:, t] = last_ids = next_ids
        if finished.all():
            break
    return out


def greedy_decode(step_fn: StepFn, initial_state: State, start_ids, max_len: int,
                  end_id: int | None = None) -> np.ndarray:
    """The most probable token at every step: :func:`generate` with ``temperature=0``, (N, max_len) int64."""
    return generate(step_fn, initial_state, start_ids, max_len, temperature=0.0, end_id=end_id)


class Hypothesis(NamedTuple):
    """One sequence found by :func:`beam_search`.

    tokens: the generated ids, without the start token and without ``end_id``;
    log_prob: the sum of the log-probabilities of its tokens, ``end_id`` included when finished;
    finished: whether it emitted ``end_id`` (False: cut off at ``max_len``).
    """

    tokens: list[int]
    log_prob: float
    finished: bool


def beam_search(
    step_fn: StepFn,
    initial_state: State,
    start_id: int,
    end_id: int | None,
    beam_width: int,
    max_len: int,
) -> list[list[Hypothesis]]:
    """The ``beam_width`` most probable sequences that a beam search finds,
    for N searches at once.

    initial_state: the states of N independent searches (N = 1 for one
    prompt, N sources for a seq2seq decoder), every array indexed by search
    on its first axis (see the module docstring). Every search starts from
    ``start_id``. Returns, for each of the N searches, up to ``beam_width``
    hypotheses, most probable first.

    The search. The beam holds K = beam_width hypotheses per search; at first
    only one, the empty sequence (score 0). At each step, ``step_fn`` is
    called once on all N * K hypotheses (row ``n * K + k`` is hypothesis k of
    search n); every hypothesis is extended by every token, its score adding
    that token's log-probability, and the K highest-scoring extensions of
    each search become the next beam, their states gathered from their
    parents' rows. A finished hypothesis (it emitted ``end_id``) stays in the
    beam with its score, extended only by an invisible no-op at no cost, so
    finished and unfinished hypotheses compete for the K places. The search
    stops when every hypothesis in every beam is finished, or after
    ``max_len`` tokens.

    Ties are broken in favour of the lower hypothesis index, then the lower
    token id, so the result is deterministic. With K = 1 this is greedy
    decoding; with K >= V ** max_len it is exhaustive search. Scores are
    total log-probabilities, not normalized by length, so shorter finished
    sequences are favoured; that is the quantity beam search approximately
    maximizes.
    """
    if not isinstance(beam_width, (int, np.integer)) or beam_width < 1:
        raise ValueError(
            f"beam_width must be a positive integer, got {beam_width!r}"
        )
    if not isinstance(max_len, (int, np.integer)) or max_len < 1:
        raise ValueError(
            "max_len must be a positive integer (the most tokens a "
            f"hypothesis may have), got {max_len!r}"
        )
    N, K = _batch_size(initial_state), int(beam_width)
    # (N*K, ...): row n*K + k
    states = map_state(lambda a: np.repeat(a, K, axis=0), initial_state)
    scores = np.full((N, K), -np.inf)
    # one live hypothesis to start: K copies would fill the beam with
    # duplicates
    scores[:, 0] = 0.0
    tokens = np.zeros((N, K, 0), dtype=np.int64)
    finished = np.zeros((N, K), dtype=bool)
    last_ids = np.full(N * K, start_id, dtype=np.int64)
    V = None
    for _ in range(max_len):
        log_probs, new_states = _checked_step(step_fn, last_ids, states, V)
        V = log_probs.shape[1]
        if end_id is not None and not 0 <= end_id < V:
            raise ValueError(
                f"end_id = {end_id} is not a token id of this model's "
                f"vocabulary [0, {V - 1}]"
            )
        log_probs = log_probs.astype(np.float64).reshape(N, K, V)
        if end_id is not None:
            # A finished hypothesis has one continuation, end_id again, at
            # log-probability 0 (the no-op).
            no_op = np.where(np.arange(V) == end_id, 0.0, -np.inf)  # (V,)
            log_probs = np.where(finished[..., None], no_op, log_probs)
        # candidate k * V + v: hypothesis k, token v
        candidates = (scores[..., None] + log_probs).reshape(N, K * V)
        # (N, K), ties: lower k, then lower v
        best = np.argsort(-candidates, axis=1, kind="stable")[:, :K]
        scores = np.take_along_axis(candidates, best, axis=1)
        parents, next_ids = np.divmod(best, V)  # (N, K) each
        tokens = np.concatenate(
            [
                np.take_along_axis(tokens, parents[..., None], axis=1),
                next_ids[..., None],
            ],
            axis=2,
        )
        finished = np.take_along_axis(finished, parents, axis=1)
        if end_id is not None:
            finished |= next_ids == end_id
        # (N*K,)
        parent_rows = (np.arange(N)[:, None] * K + parents).reshape(-1)
        states = map_state(lambda a: a[parent_rows], new_states)
        last_ids = next_ids.reshape(-1)
        if finished.all():
            break
    results = []
    for n in range(N):
        hypotheses = []
        for k in range(K):
            # fewer than K sequences are possible (a small V, or -inf log-
            # probs)
            if scores[n, k] == -np.inf:
                continue
            sequence = tokens[n, k].tolist()
            if finished[n, k]:
                sequence = sequence[: sequence.index(end_id)]
            hypotheses.append(
                Hypothesis(
                    sequence, float(scores[n, k]), bool(finished[n, k])
                )
            )
        results.append(hypotheses)
    return results


# ---------------------------------------------------------------------------------------------
# The package's language models as step functions
# ---------------------------------------------------------------------------------------------

def _recurrent_layer(model):
    layer = getattr(model, "lstm", None) or getattr(model, "rnn", None)
    if layer is None or not hasattr(layer, "final_states"):
        raise TypeError(f"{type(model).__name__} is not one of the package's language models "
                        "(RNNLM, LSTMLM, BetterLSTMLM): it has no recurrent layer `rnn` or `lstm`")
    return layer


def lm_zero_state(model, N: int) -> tuple[np.ndarray, ...]:
    """The zero states of N sequences for :func:`lm_step_fn`: one (N, S, H) array per state name (h, or h and c)."""
    layer = _recurrent_layer(model)
    S = len(getattr(layer, "layers", [layer]))
    H = layer.hidden_size
    dtype = model.params[0].dtype
    return tuple(np.zeros((N, S, H), dtype) for _ in layer.state_names)


def lm_step_fn(model) -> StepFn:
    """A package language model (RNNLM, LSTMLM, BetterLSTMLM) as a step
    function.

    The states are the recurrent layer's, one (B, S, H) array per state name
    (S layers): the layer's own (S, B, H) layout with the sequence axis moved
    first, as every decoder here needs. Each call sets the layer's state,
    runs one time step of ``model.predict`` and returns ``log_softmax`` of
    its logits (B, V) with the new states. A model with dropout must be in
    evaluation mode (``model.eval()``): generating with dropout on samples
    from a damaged model.
    """
    layer = _recurrent_layer(model)
    single_layer = not hasattr(layer, "layers")

    def step(
        last_ids: np.ndarray, states: tuple[np.ndarray, ...]
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        if getattr(model, "training", False):
            raise RuntimeError(
                f"{type(model).__name__} is in training mode (dropout on): "
                "call model.eval() before generating"
            )
        # (S, B, H) each
        layer_states = [
            np.ascontiguousarray(s.transpose(1, 0, 2)) for s in states
        ]
        # a TimeRNN or TimeLSTM takes (B, H) states; a stack takes (S, B, H)
        if single_layer:
            layer_states = [s[0] for s in layer_states]
        layer.set_state(*layer_states)
        # (B, V)
        logits = model.predict(
            np.asarray(last_ids, dtype=np.int64)[:, None]
        )[:, 0]
        # (B, S, H) each
        new_states = tuple(
            s.transpose(1, 0, 2) for s in layer.final_states()
        )
        return log_softmax(logits.astype(np.float64)), new_states

    return step


def read_prompt(
    step_fn: StepFn, initial_state: State, prompt_ids
) -> tuple[np.ndarray, State]:
    """Feed the prompts (N, P) but their last tokens; returns ``(start_ids
    (N,), states)`` to generate from.

    The last token of each prompt is not read here: it is the first input of
    the decoder, which reads it and predicts the token after the prompt.
    """
    prompt_ids = np.asarray(prompt_ids, dtype=np.int64)
    if prompt_ids.ndim != 2 or prompt_ids.shape[1] < 1:
        raise ValueError(
            "prompt_ids must be (N, P) token ids with P >= 1, got shape "
            f"{prompt_ids.shape}"
        )
    states = initial_state
    for t in range(prompt_ids.shape[1] - 1):
        _, states = _checked_step(step_fn, prompt_ids[:, t], states, None)
    return prompt_ids[:, -1], states
