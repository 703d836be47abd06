"""Offline corpora for language models: a vocabulary, two synthetic languages whose entropy rates
are known exactly (a second-order Markov toy English, and a language whose last word must agree
with its first across a long span), and real English from the docstrings of Python's standard library.

Taught in: book/02_rnn.md, book/04_lstm.md (the agreement language)

A corpus is three long streams of token ids (train, valid, test), sentences or documents separated
by ``<eos>``. Nothing is downloaded and nothing is cached on disk: both corpora are rebuilt in well
under two seconds from a seed (the synthetic one) or from the Python installation (the real one).
"""
from __future__ import annotations

import ast
import math
import re
import sysconfig
from bisect import bisect_right
from collections import Counter, deque
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

UNK = "<unk>"
EOS = "<eos>"


class Vocabulary:
    """A two-way map between tokens and the integer ids ``0 .. V-1`` a model reads.

    Taught in: book/02_rnn.md

    The specials come first (``<unk>`` is 0 and ``<eos>`` is 1 by default), then the other tokens,
    most frequent first. Tokens outside the vocabulary encode as ``<unk>`` when the vocabulary has
    one; a vocabulary without ``<unk>`` (a synthetic language's) refuses them.
    """

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        if len(set(tokens)) != len(tokens):
            repeated = sorted(t for t, c in Counter(tokens).items() if c > 1)
            raise ValueError(f"a vocabulary lists each token once; repeated: {repeated[:5]}")
        self._tokens = tokens
        self._ids = {token: i for i, token in enumerate(tokens)}
        self.unk_id = self._ids.get(UNK)

    @classmethod
    def build(cls, tokens: Iterable[str], max_size: int | None = None, min_count: int = 1,
              specials: Sequence[str] = (UNK, EOS)) -> "Vocabulary":
        """The specials, then the tokens seen at least ``min_count`` times, most frequent first.

        Ties are broken alphabetically so that the same text always gives the same ids.
        ``max_size`` counts the specials: it is the final V. Tokens cut by either limit become
        ``<unk>``, so capping a vocabulary needs ``<unk>`` among the specials.
        """
        specials = list(specials)
        if max_size is not None and max_size < len(specials):
            raise ValueError(f"max_size={max_size} leaves no room for the {len(specials)} specials {specials}: "
                             f"pass max_size >= {len(specials)}, or None for no cap")
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {min_count}")
        counts = Counter(tokens)
        for special in specials:
            counts.pop(special, None)
        ranked = sorted((token for token, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        if max_size is not None:
            ranked = ranked[: max_size - len(specials)]
        if len(ranked) < len(counts) and UNK not in specials:
            raise ValueError(f"max_size={max_size} and min_count={min_count} leave out tokens, but the specials "
                             f"{specials} have no {UNK!r} to stand for them: add {UNK!r} to specials")
        return cls(specials + ranked)

    @property
    def tokens(self) -> list[str]:
        """The tokens in id order: ``tokens[i]`` has id ``i``."""
        return list(self._tokens)

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._ids

    def __repr__(self) -> str:
        return f"Vocabulary(V={len(self)}, first tokens {self._tokens[:6]})"

    def id_of(self, token: str) -> int:
        """The id of ``token``; ``<unk>``'s id for a token outside the vocabulary."""
        i = self._ids.get(token, self.unk_id)
        if i is None:
            raise KeyError(f"{token!r} is not in this vocabulary, which has no {UNK!r} to stand for it")
        return i

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Tokens -> ids: (L,) int64."""
        if isinstance(tokens, str):
            raise TypeError("encode takes a sequence of tokens, not one string: split it first, e.g. text.split()")
        tokens = list(tokens)
        get, unk = self._ids.get, self.unk_id
        ids = [get(token, unk) for token in tokens]
        if unk is None and None in ids:
            unknown = sorted({t for t, i in zip(tokens, ids) if i is None})
            raise KeyError(f"tokens {unknown[:5]} are not in this vocabulary, which has no {UNK!r} to stand for them")
        return np.array(ids, dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Ids -> tokens."""
        ids = np.asarray(ids)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"ids must lie in [0, {len(self) - 1}] for this vocabulary, got [{ids.min()}, {ids.max()}]")
        return [self._tokens[i] for i in ids.ravel().tolist()]


@dataclass(eq=False)  # arrays have no single truth value: compare the splits with np.array_equal
class Corpus:
    """Train, validation and test streams of token ids, each one long (L,) int64 array.

    Taught in: book/02_rnn.md

    Sentences (or documents) are separated by ``<eos>``. ``source`` is the process that generated
    a synthetic corpus (its exact entropy rate, ``source.entropy_rate()``, is the best cross-entropy
    any model can reach), None for real text.
    """

    name: str
    vocab: Vocabulary
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    source: "MarkovLanguage | AgreementLanguage | None" = None

    def describe(self) -> str:
        """One line: the name, V, and the size of each split."""
        return (f"{self.name}: V = {len(self.vocab):,}, train {len(self.train):,} / valid {len(self.valid):,} "
                f"/ test {len(self.test):,} tokens")


def _check_positive_int(name: str, value, minimum: int = 1) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


# ---------------------------------------------------------------------------------------------
# A synthetic language with a known entropy rate
# ---------------------------------------------------------------------------------------------

# The toy language's words: (word, class, grammatical number). "the" goes with either number.
_LEXICON = [
    *[(w, "det", "sg") for w in ("a", "every", "this")],
    ("the", "det", None),
    *[(w, "det", "pl") for w in ("some", "two", "many", "these")],
    *[(w, "adj_animate", None) for w in ("old", "young", "happy", "hungry")],
    *[(w, "adj_thing", None) for w in ("red", "heavy", "new", "broken")],
    *[(w, "animate", "sg") for w in ("dog", "cat", "bird", "child", "teacher")],
    *[(w, "animate", "pl") for w in ("dogs", "cats", "birds", "children", "teachers")],
    *[(w, "thing", "sg") for w in ("ball", "book", "apple", "box")],
    *[(w, "thing", "pl") for w in ("balls", "books", "apples", "boxes")],
    *[(w, "place", "sg") for w in ("park", "garden", "river", "house")],
    *[(w, "verb_transitive", "sg") for w in ("sees", "likes", "finds", "takes")],
    *[(w, "verb_transitive", "pl") for w in ("see", "like", "find", "take")],
    *[(w, "verb_intransitive", "sg") for w in ("runs", "sleeps", "sings")],
    *[(w, "verb_intransitive", "pl") for w in ("run", "sleep", "sing")],
    *[(w, "adverb", None) for w in ("quickly", "often", "quietly")],
    *[(w, "preposition", None) for w in ("in", "near", "under")],
]
_WORD_KIND = {EOS: (EOS, None), **{w: (c, n) for w, c, n in _LEXICON}}


def _toy_grammar_candidates(previous: str, last: str) -> list[str]:
    """The words the toy grammar allows after the two words ``previous, last``.

    Sentence: subject NP, then an intransitive verb (with an optional adverb and place), or a
    transitive verb and an object NP (with an optional place). NP = determiner [adjective] noun,
    the noun agreeing in number with its determiner, the verb with its subject. The last two words
    always say where in the sentence we are: after "the", the noun's kind depends on the word
    before "the" (subject, object or place), and after an adjective its number depends on the
    determiner before it, which is what a bigram model cannot see.
    """
    kind = _WORD_KIND

    def words(word_class: str, number: str | None = None) -> list[str]:
        # Words of number None agree with both; a determiner of number None allows either.
        return [w for w, c, n in _LEXICON if c == word_class and (number is None or n in (number, None))]

    previous_class, previous_number = kind[previous]
    last_class, last_number = kind[last]
    if last_class == EOS:
        return words("det")
    if last_class == "det":
        role = {EOS: ("adj_animate", "animate"), "verb_transitive": ("adj_thing", "thing"),
                "preposition": (None, "place")}[previous_class]
        return (words(role[0]) if role[0] else []) + words(role[1], last_number)
    if last_class in ("adj_animate", "adj_thing"):
        return words("animate" if last_class == "adj_animate" else "thing", previous_number)
    if last_class == "animate":
        return words("verb_transitive", last_number) + words("verb_intransitive", last_number)
    if last_class == "verb_transitive":
        return words("det")
    if last_class == "verb_intransitive":
        return words("adverb") + words("preposition") + [EOS]
    if last_class in ("adverb", "thing"):
        return words("preposition") + [EOS]
    if last_class == "preposition":
        return [w for w in words("det") if kind[w][1] != "pl"]  # places are singular
    assert last_class == "place", last_class
    return [EOS]


class MarkovLanguage:
    """A k-th order Markov source of sentences: the next token depends on the last k tokens only.

    Taught in: book/02_rnn.md

    Its entropy rate, the mean surprise per token of the best possible model, is computed exactly
    by linear algebra: ``H = sum_s pi(s) H(P(. | s))`` over the states s (the contexts of k tokens),
    with pi the stationary distribution of the chain of states. A language model's cross-entropy on
    its text can approach H but, on average, never beat it.

    Sentences are independent: a context that contains ``<eos>`` forgets what came before it (it is
    stored with every earlier token replaced by ``<eos>``), so each sentence starts from the same
    state ``(<eos>,) * k``, and :meth:`sample` starts its stream there.

    contexts: (S, k) token ids of the states; next_probs: (S, V), row s the distribution of the
    token after state s. The chain must be irreducible (every state reachable from every other),
    which makes pi unique.
    """

    def __init__(self, vocab: Vocabulary, contexts: np.ndarray, next_probs: np.ndarray):
        if EOS not in vocab:
            raise ValueError(f"a MarkovLanguage's vocabulary needs {EOS!r}, the token that ends sentences")
        contexts = np.asarray(contexts, dtype=np.int64)
        next_probs = np.asarray(next_probs, dtype=np.float64)
        if contexts.ndim != 2 or contexts.shape[1] < 1:
            raise ValueError(f"contexts must be (S, k) token ids with k >= 1, got shape {contexts.shape}")
        S, k = contexts.shape
        V = len(vocab)
        if next_probs.shape != (S, V):
            raise ValueError(f"next_probs must be (S, V) = ({S}, {V}), one distribution per context, got {next_probs.shape}")
        if contexts.min() < 0 or contexts.max() >= V:
            raise ValueError(f"contexts hold token ids outside [0, {V - 1}]")
        if (next_probs < 0).any() or not np.allclose(next_probs.sum(axis=1), 1.0, atol=1e-9):
            raise ValueError("every row of next_probs must be a probability distribution (non-negative, summing to 1)")
        self.vocab, self.order, self.eos_id = vocab, k, vocab.id_of(EOS)
        self.contexts, self.next_probs = contexts, next_probs
        if not np.array_equal(self._canonical(contexts), contexts):
            raise ValueError("contexts must be stored in canonical form: every token before an <eos> replaced by <eos>")
        codes = self._codes(contexts)
        self._order_by_code = np.argsort(codes)
        self._sorted_codes = codes[self._order_by_code]
        if len(np.unique(codes)) != S:
            raise ValueError("contexts lists a context twice")
        start = self._state_of(np.full((1, k), self.eos_id))[0]
        if start < 0:
            raise ValueError(f"contexts must include the sentence start, ({EOS},) * {k}")
        self.start_state = int(start)
        # next_state[s, w]: the state after emitting w from state s (-1 where P(w | s) = 0).
        s_idx, w_idx = np.nonzero(next_probs > 0)
        successors = self._state_of(np.concatenate([contexts[s_idx, 1:], w_idx[:, None]], axis=1))
        if (successors < 0).any():
            missing = np.concatenate([contexts[s_idx, 1:], w_idx[:, None]], axis=1)[successors < 0][0]
            raise ValueError(f"the context {vocab.decode(self._canonical(missing[None])[0])} can be reached "
                             "but has no row in next_probs: list every reachable context")
        self.next_state = np.full((S, V), -1, dtype=np.int64)
        self.next_state[s_idx, w_idx] = successors
        self.period = self._check_irreducible_and_period(s_idx, successors)
        # For sampling: per state, the possible tokens, their successor states and cumulative probabilities.
        self._tables = []
        for s in range(S):
            tokens = np.flatnonzero(next_probs[s] > 0)
            cumulative = list(accumulate(next_probs[s, tokens].tolist()))
            cumulative[-1] = math.inf  # rounding must never let a uniform draw fall past the end
            self._tables.append((tokens.tolist(), self.next_state[s, tokens].tolist(), cumulative))

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def random(cls, seed: int = 0, density: float = 0.5, concentration: float = 1.0) -> "MarkovLanguage":
        """A seeded toy English of 58 words and ``<eos>``, second order, built on a small grammar.

        The grammar (determiner [adjective] noun verb ..., with number agreement) says which words
        may follow each pair of words; the seed then keeps each allowed word with probability
        ``density`` (at least two where two are allowed) and draws their probabilities from a
        Dirichlet(``concentration``). So every pair of words has its own sparse distribution,
        and the word two back matters: a bigram model is clearly worse than the optimum.
        """
        if not 0 < density <= 1:
            raise ValueError(f"density is the probability of keeping an allowed word, in (0, 1], got {density}")
        if not concentration > 0:
            raise ValueError(f"concentration must be positive, got {concentration}")
        vocab = Vocabulary([EOS] + [w for w, _, _ in _LEXICON])
        rng = np.random.default_rng(seed)
        # A draw that leaves some word unreachable, or makes the chain periodic, is redrawn from the
        # same generator (rare: each word is allowed after many contexts), so a seed fixes the result.
        while True:
            language = cls._draw_toy_language(vocab, rng, density, concentration)
            if language is not None:
                return language

    @classmethod
    def from_rule(cls, vocab: Vocabulary, order: int, rule: Callable[[tuple[str, ...]], dict[str, float]]) -> "MarkovLanguage":
        """The language whose next-token distribution after a context is ``rule(context)``.

        ``rule`` maps a context, a tuple of ``order`` tokens, to ``{next token: probability}``
        (zero-probability tokens may be left out). It is called once for each context reachable
        from the sentence start ``(<eos>,) * order``, breadth first, so a rule that draws random
        numbers gives the same language from the same generator.
        """
        _check_positive_int("order", order)
        start = (EOS,) * order
        rows: dict[tuple[str, ...], dict[str, float]] = {}
        queue = deque([start])
        while queue:
            context = queue.popleft()
            if context in rows:
                continue
            rows[context] = {token: p for token, p in rule(context).items() if p > 0}
            # A sentence end forgets the sentence: the next context is the start again.
            queue.extend(start if token == EOS else (*context[1:], token) for token in rows[context])
        contexts = np.array([vocab.encode(context) for context in rows])
        next_probs = np.zeros((len(rows), len(vocab)))
        for s, row in enumerate(rows.values()):
            next_probs[s, vocab.encode(list(row))] = list(row.values())
        return cls(vocab, contexts, next_probs)

    @classmethod
    def _draw_toy_language(cls, vocab: Vocabulary, rng: np.random.Generator, density: float,
                           concentration: float) -> "MarkovLanguage | None":
        def sparse_random_rule(context: tuple[str, str]) -> dict[str, float]:
            allowed = _toy_grammar_candidates(*context)
            keep = rng.random(len(allowed)) < density
            at_least = min(2, len(allowed))
            if keep.sum() < at_least:
                keep[rng.choice(len(allowed), at_least, replace=False)] = True
            kept = [w for w, k in zip(allowed, keep) if k]
            return dict(zip(kept, rng.dirichlet(np.full(len(kept), concentration)).tolist()))

        language = cls.from_rule(vocab, 2, sparse_random_rule)
        every_word_occurs = (language.next_probs > 0).any(axis=0).all()
        return language if every_word_occurs and language.period == 1 else None

    # -- states --------------------------------------------------------------------------------

    def _canonical(self, windows: np.ndarray) -> np.ndarray:
        """(M, k) windows of tokens with every token before the window's last <eos> set to <eos>."""
        windows = np.array(windows, dtype=np.int64, copy=True)
        is_eos = windows == self.eos_id
        # eos_later[:, j]: some token after position j is <eos>.
        eos_later = np.zeros_like(is_eos)
        eos_later[:, :-1] = np.logical_or.accumulate(is_eos[:, ::-1], axis=1)[:, ::-1][:, 1:]
        windows[eos_later] = self.eos_id
        return windows

    def _codes(self, windows: np.ndarray) -> np.ndarray:
        return windows @ (len(self.vocab) ** np.arange(windows.shape[1] - 1, -1, -1, dtype=np.int64))

    def _state_of(self, windows: np.ndarray) -> np.ndarray:
        """(M, k) token windows -> (M,) state indices, -1 for a context the language never reaches."""
        codes = self._codes(self._canonical(windows))
        pos = np.minimum(np.searchsorted(self._sorted_codes, codes), len(self._sorted_codes) - 1)
        return np.where(self._sorted_codes[pos] == codes, self._order_by_code[pos], -1)

    def state_of(self, context: np.ndarray) -> int:
        """The state after ``context``, the last k token ids read (k = ``order``): a row of ``next_probs``."""
        context = np.asarray(context, dtype=np.int64)
        if context.shape != (self.order,):
            raise ValueError(f"a context is the last {self.order} token ids, got shape {context.shape}")
        state = int(self._state_of(context[None])[0])
        if state < 0:
            raise ValueError(f"the language never reaches the context {self.vocab.decode(context)}")
        return state

    def _check_irreducible_and_period(self, sources: np.ndarray, targets: np.ndarray) -> int:
        """Raise unless every state reaches every other; return the chain's period (1: aperiodic)."""
        S = len(self.contexts)
        level = np.full(S, -1)
        level[self.start_state] = 0
        frontier = [self.start_state]
        successors = [[] for _ in range(S)]
        predecessors = [[] for _ in range(S)]
        for s, t in zip(sources.tolist(), targets.tolist()):
            successors[s].append(t)
            predecessors[t].append(s)
        while frontier:
            nxt = []
            for s in frontier:
                for t in successors[s]:
                    if level[t] < 0:
                        level[t] = level[s] + 1
                        nxt.append(t)
            frontier = nxt
        back_reached = {self.start_state}
        stack = [self.start_state]
        while stack:
            for p in predecessors[stack.pop()]:
                if p not in back_reached:
                    back_reached.add(p)
                    stack.append(p)
        if (level < 0).any() or len(back_reached) < S:
            bad = int(np.flatnonzero(level < 0)[0]) if (level < 0).any() else min(set(range(S)) - back_reached)
            raise ValueError(f"the chain is not irreducible: the context {self.vocab.decode(self.contexts[bad])} "
                             "cannot be reached from, or cannot get back to, the sentence start")
        # The period is the gcd of level(s) + 1 - level(t) over all edges s -> t.
        return math.gcd(*(int(level[s] + 1 - level[t]) for s, t in zip(sources.tolist(), targets.tolist())))

    # -- exact quantities ----------------------------------------------------------------------

    def stationary_distribution(self) -> np.ndarray:
        """pi: (S,), the long-run fraction of time in each state: ``pi Q = pi``, ``sum(pi) = 1``."""
        S = len(self.contexts)
        transition = np.zeros((S, S))  # Q[s, t] = P(state t next | state s)
        s_idx, w_idx = np.nonzero(self.next_probs > 0)
        np.add.at(transition, (s_idx, self.next_state[s_idx, w_idx]), self.next_probs[s_idx, w_idx])
        # pi (Q - I) = 0 has rank S - 1 for an irreducible chain: replace one equation by sum(pi) = 1.
        system = (transition - np.eye(S)).T
        system[-1] = 1.0
        rhs = np.zeros(S)
        rhs[-1] = 1.0
        return np.linalg.solve(system, rhs)

    def entropy_rate(self) -> float:
        """H in nats per token: ``sum_s pi(s) H(P(. | s))``, exact."""
        p = self.next_probs
        with np.errstate(divide="ignore", invalid="ignore"):
            plogp = np.where(p > 0, p * np.log(p), 0.0)  # 0 log 0 = 0
        state_entropies = -plogp.sum(axis=1)
        return float(self.stationary_distribution() @ state_entropies)

    def optimal_perplexity(self) -> float:
        """``exp(entropy_rate())``: the lowest perplexity a model of this language can reach on average."""
        return math.exp(self.entropy_rate())

    def ngram_entropy(self, n: int) -> float:
        """The best cross-entropy of an n-gram model (context of n-1 tokens), in nats per token.

        ``H(W_t | W_{t-n+1} .. W_{t-1})`` under the stationary chain: what an n-gram model fitted
        on unlimited text reaches. ``n = 1`` is the entropy of the unigram distribution, and
        ``n = k + 1`` equals :meth:`entropy_rate`; it falls as n grows.
        """
        _check_positive_int("n", n)
        if n > self.order + 1:
            raise ValueError(f"n = {n} needs a context longer than this language's order k = {self.order}: "
                             f"pass n <= {self.order + 1} (longer contexts cannot help)")
        pi = self.stationary_distribution()
        s_idx, w_idx = np.nonzero(self.next_probs > 0)
        joint = pi[s_idx] * self.next_probs[s_idx, w_idx]  # P(state, next token)
        # Sentences are independent, so the canonical suffix tells as much as the true previous tokens.
        suffix = self.contexts[s_idx, self.order - (n - 1):]
        V = len(self.vocab)
        context_codes = suffix @ (V ** np.arange(n - 2, -1, -1, dtype=np.int64)) if n > 1 else np.zeros(len(s_idx), np.int64)

        def entropy_of(codes: np.ndarray) -> float:
            _, group = np.unique(codes, return_inverse=True)
            mass = np.bincount(group, weights=joint)
            mass = mass[mass > 0]
            return float(-np.sum(mass * np.log(mass)))

        return entropy_of(context_codes * V + w_idx) - entropy_of(context_codes)

    # -- text ----------------------------------------------------------------------------------

    def token_log_probs(self, ids: np.ndarray) -> np.ndarray:
        """``log P(ids[t] | the k tokens before it)`` for t = k .. L-1: (L - k,), -inf where impossible."""
        ids = np.asarray(ids)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"expected a stream of token ids, (L,) integers, got {ids.dtype} of shape {ids.shape}")
        k = self.order
        if len(ids) <= k:
            return np.zeros(0)
        if ids.min() < 0 or ids.max() >= len(self.vocab):
            raise ValueError(f"token ids must lie in [0, {len(self.vocab) - 1}], got [{ids.min()}, {ids.max()}]")
        states = self._state_of(np.lib.stride_tricks.sliding_window_view(ids[:-1], k))  # (L - k,) contexts
        probs = np.where(states >= 0, self.next_probs[states, ids[k:]], 0.0)  # state -1 is no context
        with np.errstate(divide="ignore"):
            return np.log(probs)

    def log_prob(self, ids: np.ndarray) -> float:
        """Natural log of the probability of ``ids[k:]`` given its first k tokens; -inf if impossible."""
        return float(np.sum(self.token_log_probs(ids)))

    def is_grammatical(self, tokens: Sequence[str] | np.ndarray) -> bool:
        """Whether every transition of ``tokens``, read from a sentence start, has nonzero probability.

        ``tokens`` (strings, or ids) may hold several sentences, each ending in ``<eos>``; the
        transitions are checked, so the beginning of a sentence is grammatical too.
        """
        if len(tokens) and isinstance(tokens[0], str):
            if any(t not in self.vocab for t in tokens):
                return False
            tokens = self.vocab.encode(tokens)
        ids = np.concatenate([np.full(self.order, self.eos_id), np.asarray(tokens, dtype=np.int64)])
        return bool(np.isfinite(self.log_prob(ids)))

    def sample(self, n_tokens: int, rng: np.random.Generator) -> np.ndarray:
        """A stream of ``n_tokens`` ids: whole sentences from a sentence start, the last one cut off."""
        _check_positive_int("n_tokens", n_tokens, minimum=0)
        ids = np.empty(n_tokens, dtype=np.int64)
        state, tables = self.start_state, self._tables
        for i, u in enumerate(rng.random(n_tokens).tolist()):
            tokens, next_states, cumulative = tables[state]
            j = bisect_right(cumulative, u)
            ids[i], state = tokens[j], next_states[j]
        return ids

    def all_sentences(self, max_sentences: int = 1_000_000) -> tuple[list[np.ndarray], np.ndarray]:
        """Every sentence the language can produce, with its probability: ``(sentences, probs)``.

        sentences: a list of word-id arrays without the final ``<eos>``; probs: (M,), summing to 1.
        Only for a language whose sentences are finite in number (the toy grammar's are at most ten
        words long): more than ``max_sentences`` of them is an error.
        """
        sentences, probs = [], []
        stack = [(self.start_state, (), 1.0)]
        while stack:
            state, words, p = stack.pop()
            tokens, next_states, _ = self._tables[state]
            for token, next_state in zip(tokens, next_states):
                q = p * self.next_probs[state, token]
                if token == self.eos_id:
                    sentences.append(np.array(words, dtype=np.int64))
                    probs.append(q)
                else:
                    stack.append((next_state, words + (token,), q))
            if len(sentences) + len(stack) > max_sentences:
                raise ValueError(f"this language has more than {max_sentences} sentences (or unbounded ones): "
                                 "enumerating them is not an option; sample instead")
        return sentences, np.array(probs)

    def sample_sentences(self, n: int, rng: np.random.Generator) -> list[list[str]]:
        """``n`` sentences as lists of words, each ending in ``<eos>``."""
        _check_positive_int("n", n, minimum=0)
        sentences, tables = [], self._tables
        for _ in range(n):
            state, words = self.start_state, []
            while True:
                tokens, next_states, cumulative = tables[state]
                j = bisect_right(cumulative, rng.random())
                words.append(tokens[j])
                state = next_states[j]
                if tokens[j] == self.eos_id:
                    break
            sentences.append(self.vocab.decode(words))
        return sentences


def synthetic_corpus(n_train: int = 100_000, n_valid: int = 10_000, n_test: int = 10_000, seed: int = 0) -> Corpus:
    """Three independent streams from :meth:`MarkovLanguage.random` (``seed``), whose optimum is known."""
    for name, value in (("n_train", n_train), ("n_valid", n_valid), ("n_test", n_test)):
        _check_positive_int(name, value, minimum=2)
    language = MarkovLanguage.random(seed)
    train_rng, valid_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    return Corpus(name="synthetic", vocab=language.vocab, train=language.sample(n_train, train_rng),
                  valid=language.sample(n_valid, valid_rng), test=language.sample(n_test, test_rng), source=language)


# ---------------------------------------------------------------------------------------------
# A language with a long-range dependency and a known entropy rate
# ---------------------------------------------------------------------------------------------

_AGREEMENT_SUBJECTS = ("cat", "dog", "cow", "owl", "bee", "frog", "duck", "wolf")
_AGREEMENT_VERBS = ("meows", "barks", "moos", "hoots", "buzzes", "croaks", "quacks", "howls")
_AGREEMENT_FILLERS = ("very", "much", "so", "too", "quite", "rather", "really", "truly")


class AgreementLanguage:
    """Sentences whose last word must agree with their first, across a span
    of random filler words.

    Taught in: book/04_lstm.md

    Each sentence is: a subject drawn uniformly from ``num_subjects``
    (``cat``, ``dog``, ...), then G filler words drawn uniformly and
    independently from ``num_fillers`` (``very``, ``much``, ...), then the
    one verb that agrees with the subject (``cat`` -> ``meows``), then
    ``<eos>``. The span G is geometric, ``P(G = g) = (1 - q)^g q`` with ``q =
    1 / (1 + mean_span)``: after each filler the verb comes with the same
    probability q, so the end of the span cannot be predicted from its
    length, and only the subject, seen ``G + 1`` steps earlier, says *which*
    verb comes.

    The sentence so far determines the state of the source (start; inside the
    span of subject k; after the verb), so its entropy rate is exact: the
    mean entropy of a sentence over its mean length, ``(log K + (h(q) + (1 -
    q) log F) / q) / (2 + 1 / q)`` nats per token, with h the binary entropy,
    K subjects and F fillers. A model that forgets the subject can do no
    better than to spread the verb's probability over the K verbs: it pays
    ``log K`` more per sentence (:meth:`no_memory_perplexity`).
    """

    def __init__(
        self,
        num_subjects: int = 8,
        num_fillers: int = 4,
        mean_span: float = 20.0,
    ):
        _check_positive_int("num_subjects", num_subjects, minimum=2)
        _check_positive_int("num_fillers", num_fillers, minimum=1)
        if num_subjects > len(_AGREEMENT_SUBJECTS) or num_fillers > len(
            _AGREEMENT_FILLERS
        ):
            raise ValueError(
                f"at most {len(_AGREEMENT_SUBJECTS)} subjects and "
                f"{len(_AGREEMENT_FILLERS)} fillers, "
                f"got num_subjects={num_subjects}, num_fillers={num_fillers}"
            )
        if not mean_span > 0:
            raise ValueError(
                "mean_span is the mean number of filler words, a positive "
                f"number, got {mean_span}"
            )
        self.num_subjects, self.num_fillers, self.mean_span = (
            int(num_subjects),
            int(num_fillers),
            float(mean_span),
        )
        self.q = 1.0 / (1.0 + self.mean_span)
        self.subjects = list(_AGREEMENT_SUBJECTS[:num_subjects])
        self.verbs = list(_AGREEMENT_VERBS[:num_subjects])
        self.fillers = list(_AGREEMENT_FILLERS[:num_fillers])
        self.vocab = Vocabulary(
            [EOS, *self.subjects, *self.fillers, *self.verbs]
        )
        self.eos_id = self.vocab.id_of(EOS)
        self.subject_ids = self.vocab.encode(self.subjects)
        self.filler_ids = self.vocab.encode(self.fillers)
        # verb_ids[k] agrees with subject_ids[k]
        self.verb_ids = self.vocab.encode(self.verbs)

    def mean_sentence_length(self) -> float:
        """Subject, ``mean_span`` fillers, verb and ``<eos>``: ``3 +
        mean_span`` tokens."""
        return 3.0 + self.mean_span

    def _span_step_entropy(self) -> float:
        """Entropy of one token inside the span: verb or filler (h(q)), and
        which filler."""
        q = self.q
        binary = (
            -(q * math.log(q) + (1 - q) * math.log1p(-q)) if q < 1 else 0.0
        )
        return binary + (1 - q) * math.log(self.num_fillers)

    def entropy_rate(self) -> float:
        """The best possible cross-entropy per token, in nats: sentence
        entropy / mean sentence length."""
        sentence = (
            math.log(self.num_subjects) + self._span_step_entropy() / self.q
        )
        return sentence / self.mean_sentence_length()

    def optimal_perplexity(self) -> float:
        """``exp(entropy_rate())``: the lowest perplexity any model can reach
        on average."""
        return math.exp(self.entropy_rate())

    def no_memory_perplexity(self) -> float:
        """The lowest perplexity of a model that knows everything but the
        subject: ``log K`` more per sentence."""
        return math.exp(
            self.entropy_rate()
            + math.log(self.num_subjects) / self.mean_sentence_length()
        )

    def sample(self, n_tokens: int, rng: np.random.Generator) -> np.ndarray:
        """A stream of ``n_tokens`` ids, whole sentences from the start (the
        last one cut): (n_tokens,) int64."""
        _check_positive_int("n_tokens", n_tokens)
        pieces, total = [], 0
        while total < n_tokens:
            # sentences per batch
            n = max(
                16,
                int((n_tokens - total) / self.mean_sentence_length()) + 16,
            )
            subjects = rng.integers(0, self.num_subjects, size=n)
            # numpy's geometric counts trials, from 1
            spans = rng.geometric(self.q, size=n) - 1
            fillers = rng.integers(
                0, self.num_fillers, size=int(spans.sum())
            )
            starts = np.concatenate([[0], np.cumsum(spans)])
            for k, g, a in zip(
                subjects.tolist(), spans.tolist(), starts[:-1].tolist()
            ):
                sentence = np.concatenate(
                    [
                        [self.subject_ids[k]],
                        self.filler_ids[fillers[a : a + g]],
                        [self.verb_ids[k], self.eos_id],
                    ]
                )
                pieces.append(sentence)
                total += len(sentence)
                if total >= n_tokens:
                    break
        return np.concatenate(pieces)[:n_tokens].astype(np.int64)


def agreement_corpus(n_train: int = 100_000, n_valid: int = 10_000, n_test: int = 20_000, seed: int = 0,
                     **language) -> Corpus:
    """Three independent streams of :class:`AgreementLanguage` (its keyword arguments in ``language``).

    Taught in: book/04_lstm.md
    """
    for name, value in (("n_train", n_train), ("n_valid", n_valid), ("n_test", n_test)):
        _check_positive_int(name, value, minimum=2)
    source = AgreementLanguage(**language)
    train_rng, valid_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    return Corpus(name="agreement", vocab=source.vocab, train=source.sample(n_train, train_rng),
                  valid=source.sample(n_valid, valid_rng), test=source.sample(n_test, test_rng), source=source)


# ---------------------------------------------------------------------------------------------
# Real English: the docstrings of the standard library
# ---------------------------------------------------------------------------------------------

_EXCLUDED_DIRECTORIES = {"test", "tests", "idlelib", "tkinter", "turtledemo", "site-packages", "lib2to3", "__pycache__"}

# Words (with inner apostrophes: "don't"), numbers, and the punctuation of prose. Everything else
# (reST markup, quotes, brackets, operators, underscores) separates tokens and is dropped.
_TOKEN_PATTERN = re.compile(r"[a-z]+(?:'[a-z]+)*|[0-9]+|[.,;:!?()]")

# The files read by default, relative to the standard library's directory, sorted: the 200 files
# of Python 3.11 richest in docstring tokens per byte of source (parsing dominates the build
# time), which hold three quarters of the standard library's docstring tokens in two fifths of its
# source and build in about a second. A file missing from another Python version is skipped.
STDLIB_DOCSTRING_FILES: tuple[str, ...] = (
    '__future__.py', '_aix_support.py', '_collections_abc.py', '_py_abc.py', '_pydecimal.py',
    '_pyio.py', '_threading_local.py', 'abc.py', 'asyncio/events.py', 'asyncio/exceptions.py',
    'asyncio/futures.py', 'asyncio/locks.py', 'asyncio/log.py', 'asyncio/protocols.py',
    'asyncio/queues.py', 'asyncio/runners.py', 'asyncio/staggered.py', 'asyncio/streams.py',
    'asyncio/tasks.py', 'asyncio/threads.py', 'asyncio/timeouts.py', 'asyncio/transports.py',
    'base64.py', 'bdb.py', 'bisect.py', 'bz2.py', 'calendar.py', 'cgi.py', 'chunk.py', 'cmd.py',
    'code.py', 'codecs.py', 'codeop.py', 'colorsys.py', 'concurrent/futures/_base.py',
    'configparser.py', 'contextlib.py', 'copy.py', 'ctypes/_aix.py', 'ctypes/macholib/__init__.py',
    'ctypes/macholib/dylib.py', 'ctypes/macholib/framework.py', 'curses/panel.py', 'curses/textpad.py',
    'dbm/__init__.py', 'dbm/gnu.py', 'dbm/ndbm.py', 'difflib.py', 'distutils/__init__.py',
    'distutils/archive_util.py', 'distutils/ccompiler.py', 'distutils/cmd.py',
    'distutils/command/config.py', 'distutils/command/install_egg_info.py', 'distutils/core.py',
    'distutils/dep_util.py', 'distutils/dir_util.py', 'distutils/errors.py', 'distutils/extension.py',
    'distutils/file_util.py', 'distutils/filelist.py', 'distutils/spawn.py', 'distutils/text_file.py',
    'distutils/util.py', 'distutils/version.py', 'distutils/versionpredicate.py', 'doctest.py',
    'email/__init__.py', 'email/_encoded_words.py', 'email/_policybase.py', 'email/base64mime.py',
    'email/charset.py', 'email/encoders.py', 'email/errors.py', 'email/header.py',
    'email/headerregistry.py', 'email/iterators.py', 'email/message.py', 'email/mime/application.py',
    'email/mime/audio.py', 'email/mime/base.py', 'email/mime/image.py', 'email/mime/message.py',
    'email/mime/multipart.py', 'email/mime/nonmultipart.py', 'email/mime/text.py', 'email/parser.py',
    'email/policy.py', 'email/quoprimime.py', 'email/utils.py', 'encodings/__init__.py',
    'encodings/mbcs.py', 'encodings/undefined.py', 'filecmp.py', 'fileinput.py', 'fnmatch.py',
    'fractions.py', 'ftplib.py', 'functools.py', 'genericpath.py', 'getopt.py', 'getpass.py',
    'graphlib.py', 'gzip.py', 'hmac.py', 'http/cookiejar.py', 'http/server.py', 'imaplib.py', 'imp.py',
    'importlib/_abc.py', 'importlib/abc.py', 'importlib/metadata/__init__.py',
    'importlib/metadata/_collections.py', 'importlib/metadata/_functools.py',
    'importlib/metadata/_itertools.py', 'importlib/metadata/_text.py', 'importlib/readers.py',
    'importlib/resources/_legacy.py', 'importlib/resources/abc.py', 'importlib/resources/simple.py',
    'importlib/simple.py', 'importlib/util.py', 'inspect.py', 'io.py', 'ipaddress.py',
    'json/__init__.py', 'json/decoder.py', 'json/encoder.py', 'keyword.py', 'linecache.py',
    'logging/__init__.py', 'logging/handlers.py', 'lzma.py', 'mailcap.py', 'mimetypes.py', 'nntplib.py',
    'numbers.py', 'operator.py', 'optparse.py', 'os.py', 'pathlib.py', 'pdb.py', 'pipes.py',
    'pkgutil.py', 'platform.py', 'poplib.py', 'py_compile.py', 'pyclbr.py', 'queue.py', 'random.py',
    're/__init__.py', 'rlcompleter.py', 'sched.py', 'secrets.py', 'selectors.py', 'shelve.py',
    'shutil.py', 'site.py', 'smtplib.py', 'sndhdr.py', 'socket.py', 'socketserver.py',
    'sqlite3/__init__.py', 'ssl.py', 'stat.py', 'statistics.py', 'sunau.py', 'symtable.py',
    'telnetlib.py', 'tempfile.py', 'textwrap.py', 'threading.py', 'timeit.py', 'traceback.py',
    'turtle.py', 'typing.py', 'unittest/__init__.py', 'unittest/case.py', 'unittest/mock.py',
    'unittest/result.py', 'urllib/error.py', 'urllib/parse.py', 'urllib/response.py', 'uuid.py',
    'wave.py', 'wsgiref/__init__.py', 'wsgiref/handlers.py', 'wsgiref/headers.py', 'wsgiref/util.py',
    'wsgiref/validate.py', 'xml/__init__.py', 'xml/dom/domreg.py', 'xml/etree/ElementTree.py',
    'xml/parsers/__init__.py', 'xml/parsers/expat.py', 'xml/sax/__init__.py', 'xml/sax/_exceptions.py',
    'xml/sax/handler.py', 'xml/sax/xmlreader.py', 'xmlrpc/server.py',
)


def stdlib_source_files(stdlib_dir: str | Path | None = None) -> list[str]:
    """Every ``.py`` file of the standard library, relative and sorted, outside tests, IDLE, tkinter, site-packages and lib2to3."""
    root = Path(stdlib_dir if stdlib_dir is not None else sysconfig.get_paths()["stdlib"])
    if not root.is_dir():
        raise FileNotFoundError(f"no standard library directory at {root}: pass stdlib_dir, a folder of .py files")
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py")
                  if not _EXCLUDED_DIRECTORIES.intersection(p.relative_to(root).parts[:-1]))


def _without_doctest_examples(docstring: str) -> str:
    """The docstring minus its ``>>>`` examples and their printed output (code, not English)."""
    kept, in_example = [], False
    for line in docstring.splitlines():
        stripped = line.strip()
        if stripped.startswith(">>>"):
            in_example = True
        elif in_example and not stripped:
            in_example = False
        elif not in_example:
            kept.append(line)
    return "\n".join(kept)


_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
_STATEMENT_LISTS = ("body", "orelse", "finalbody", "handlers", "cases")


def _documented_nodes(node: ast.AST):
    """The module, classes and functions under ``node``, at any depth of statements.

    Docstrings only open the body of these, which only statements contain, so this walks statement
    lists (and except/case clauses) alone, several times faster than ``ast.walk`` over every expression.
    """
    if isinstance(node, _DOCUMENTED):
        yield node
    for name in _STATEMENT_LISTS:
        for child in getattr(node, name, ()):
            yield from _documented_nodes(child)


def docstring_tokens(source: str) -> list[list[str]]:
    """Parse Python ``source`` (never run it) and tokenize each docstring: a list of token lists.

    Lowercase words, numbers and prose punctuation (``_TOKEN_PATTERN``); doctest examples removed.
    Raises SyntaxError (or ValueError) for source that does not parse.
    """
    documents = []
    for node in _documented_nodes(ast.parse(source)):
        docstring = ast.get_docstring(node)
        if docstring:
            tokens = _TOKEN_PATTERN.findall(_without_doctest_examples(docstring).lower())
            if tokens:
                documents.append(tokens)
    return documents


def stdlib_docstrings_corpus(max_vocab: int = 2000, seed: int = 0, *, files: Sequence[str] | None = None,
                             stdlib_dir: str | Path | None = None, split_fractions: tuple[float, float] = (0.1, 0.1)) -> Corpus:
    """Real English: the docstrings of the standard library, one ``<eos>`` after each docstring.

    Each file is parsed with :mod:`ast`, never imported; files that are not UTF-8 or do not parse
    are skipped. ``files`` (relative to ``stdlib_dir``, default this Python's standard library)
    defaults to :data:`STDLIB_DOCSTRING_FILES`. Whole files go to one split, so the test set is
    text from modules the model never saw: a seeded shuffle of the files fills valid and test up to
    ``split_fractions`` of the tokens each, and train gets the rest. The vocabulary is the
    ``max_vocab`` (including ``<unk>`` and ``<eos>``) most frequent tokens of train; every other
    token becomes ``<unk>``.
    """
    _check_positive_int("max_vocab", max_vocab, minimum=3)
    valid_fraction, test_fraction = split_fractions
    if not (0 < valid_fraction and 0 < test_fraction and valid_fraction + test_fraction < 1):
        raise ValueError(f"split_fractions = (valid, test) must be positive and sum to less than 1, got {split_fractions}")
    root = Path(stdlib_dir if stdlib_dir is not None else sysconfig.get_paths()["stdlib"])
    if not root.is_dir():
        raise FileNotFoundError(f"no standard library directory at {root}: pass stdlib_dir, a folder of .py files")
    names = sorted(STDLIB_DOCSTRING_FILES if files is None else files)
    per_file: list[list[str]] = []
    for name in names:
        try:
            documents = docstring_tokens((root / name).read_bytes().decode("utf-8"))
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            continue  # missing in this Python version, not UTF-8, or not parseable: skip
        stream = [token for document in documents for token in (*document, EOS)]
        if stream:
            per_file.append(stream)
    if len(per_file) < 3:
        raise ValueError(f"only {len(per_file)} of the {len(names)} files under {root} have docstrings: "
                         "train, valid and test need one file each at least; pass more files")
    total = sum(map(len, per_file))
    order = np.random.default_rng(seed).permutation(len(per_file)).tolist()
    splits: dict[str, list[str]] = {"test": [], "valid": [], "train": []}
    targets = {"test": test_fraction * total, "valid": valid_fraction * total}
    for i in order:
        name = next((s for s in ("test", "valid") if len(splits[s]) < targets[s]), "train")
        splits[name].extend(per_file[i])
    if not splits["train"]:
        raise ValueError("no file is left for train: pass more files or smaller split_fractions")
    vocab = Vocabulary.build(splits["train"], max_size=max_vocab)
    return Corpus(name="stdlib docstrings", vocab=vocab, train=vocab.encode(splits["train"]),
                  valid=vocab.encode(splits["valid"]), test=vocab.encode(splits["test"]))
