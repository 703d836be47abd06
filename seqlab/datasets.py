"""Seeded character-level seq2seq tasks: addition (``"57+612" -> "669"``) and date formats
(``"september 27, 1994" -> "1994-09-27"``).

Taught in: book/07_seq2seq.md

A task is a list of ``(question, answer)`` string pairs turned into fixed-width arrays of
character ids. The API, used by chapter 7 (seq2seq) and chapter 8 (attention):

- :func:`addition_pairs`, :func:`date_pairs`: the seeded string pairs;
- :func:`addition_task`, :func:`date_task`: a :class:`Seq2seqTask`, the pairs split into train
  and test and encoded (``xs: (N, T_in)`` sources, ``ts: (N, 1 + T_out)`` START then the answer);
- :func:`pad`, :func:`encode_padded`, :func:`decode_ids`: the plain functions underneath;
  :func:`move_padding_left` moves each row's padding in front of the question.

Conventions, the same for both tasks:

- one character vocabulary for questions and answers; the padding character ``PAD = " "`` is id 0
  and the start-of-answer character ``START = "_"`` is id 1, then the task's characters, sorted;
- every question is padded on the right to ``source_width`` and every answer to ``target_width``
  (widths fixed by the task, never by the sample drawn, so that every split has the same shapes);
  padding is part of the answer: a model predicts the trailing spaces too;
- ``reverse_input=True`` reverses each *padded* question, ``"57+612 " -> " 216+75"``, so the
  first character read is the last one written and the padding comes first;
- the decoder reads ``ts[:, :-1]`` (START, then the answer shifted right: teacher forcing) and is
  trained to predict ``ts[:, 1:]``;
- questions are distinct within a task, so no test question is also a training question.

``seed`` is an int or a ``np.random.Generator``; the same int always gives the same data.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from seqlab.corpora import Vocabulary

PAD = " "
START = "_"
PAD_ID = 0
START_ID = 1


def pad(text: str, width: int) -> str:
    """``text`` followed by ``PAD`` up to ``width`` characters: ``pad("57+6", 7) == "57+6   "``."""
    if len(text) > width:
        raise ValueError(f"{text!r} has {len(text)} characters, more than the width {width}: "
                         f"pass a width of at least {len(text)}")
    return text + PAD * (width - len(text))


def encode_padded(
    texts: Sequence[str],
    vocab: Vocabulary,
    width: int,
    reverse: bool = False,
) -> np.ndarray:
    """Strings -> ``(N, width)`` int64 character ids, each padded on the
    right with ``PAD``; with ``reverse=True`` each padded row is then
    reversed, so the padding comes first.
    """
    if isinstance(texts, str):
        raise TypeError(
            "encode_padded takes a list of strings, not one string: wrap "
            "it, [text]"
        )
    padded = "".join(pad(text, width) for text in texts)
    # One vectorized lookup instead of a dictionary lookup per character:
    # tens of thousands of rows.
    code_points = np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32)
    vocab_code_points, vocab_ids = _code_point_table(vocab)
    where = np.searchsorted(vocab_code_points, code_points).clip(
        max=len(vocab_code_points) - 1
    )
    unknown = vocab_code_points[where] != code_points
    if unknown.any():
        characters = sorted({chr(c) for c in code_points[unknown]})
        raise KeyError(
            f"characters {characters[:5]} are not in the vocabulary "
            f"{vocab.tokens}: "
            "build the vocabulary from every character the task can produce"
        )
    ids = vocab_ids[where].reshape(len(texts), width)
    return ids[:, ::-1].copy() if reverse else ids


def move_padding_left(xs: np.ndarray, pad_id: int = PAD_ID) -> np.ndarray:
    """Right-padded ids ``(N, T)`` -> the same rows padded on the left: ``"57+6   " -> "   57+6"``.

    An encoder whose last state is the message (seq2seq without attention) then ends on the last
    character of the question instead of a run of padding. The padding is the trailing ``pad_id``
    run of each row (a space inside a question is the same id, and stays where it is).
    """
    xs = np.asarray(xs)
    if xs.ndim != 2:
        raise ValueError(f"move_padding_left expects ids of shape (N, T), got {xs.shape}: add the batch axis, xs[None]")
    T = xs.shape[1]
    trailing = np.argmax(xs[:, ::-1] != pad_id, axis=1)  # (N,): the length of each row's trailing padding
    trailing[(xs == pad_id).all(axis=1)] = 0  # an all-padding row stays as it is
    columns = (np.arange(T)[None, :] - trailing[:, None]) % T  # rotate each row right by its padding
    return np.take_along_axis(xs, columns, axis=1)


def _code_point_table(vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """The vocabulary's one-character tokens as sorted code points, and the id of each."""
    tokens = vocab.tokens
    if any(len(token) != 1 for token in tokens):
        raise ValueError(f"a character vocabulary has one-character tokens, got {[t for t in tokens if len(t) != 1][:5]}")
    code_points = np.array([ord(token) for token in tokens], dtype=np.uint32)
    order = np.argsort(code_points)
    return code_points[order], order.astype(np.int64)


def decode_ids(ids: np.ndarray, vocab: Vocabulary, reverse: bool = False) -> list[str]:
    """``(N, T)`` character ids -> N strings without their padding (undoing ``reverse`` first)."""
    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise ValueError(f"decode_ids expects ids of shape (N, T), got {ids.shape}: add the batch axis, ids[None]")
    if reverse:
        ids = ids[:, ::-1]
    return ["".join(vocab.decode(row)).strip(PAD) for row in ids]


def _character_vocabulary(characters: str) -> Vocabulary:
    """PAD (id 0), START (id 1), then the characters, sorted: the same ids on every machine."""
    return Vocabulary([PAD, START] + sorted(set(characters) - {PAD, START}))


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _positive(name: str, value: int) -> int:
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _distinct_pairs(num_examples: int, draw_batch: Callable[[int], list[tuple[str, str]]], available: int,
                    task: str) -> list[tuple[str, str]]:
    """``num_examples`` pairs from ``draw_batch(n)`` (n pairs at a time, vectorized), keeping the
    first of any repeated question."""
    if num_examples > available // 2:
        # Rejection sampling slows to a crawl near the number of distinct questions; half is plenty.
        raise ValueError(f"{task} has only {available} distinct questions: ask for at most {available // 2} examples, "
                         f"got num_examples={num_examples}")
    pairs: dict[str, str] = {}
    while len(pairs) < num_examples:
        for question, answer in draw_batch(num_examples - len(pairs) + 16):
            pairs.setdefault(question, answer)
    return list(pairs.items())[:num_examples]


# ---------------------------------------------------------------------------------------------
# Addition
# ---------------------------------------------------------------------------------------------

def addition_pairs(num_examples: int, max_digits: int = 3, seed: int | np.random.Generator = 0) -> list[tuple[str, str]]:
    """Distinct ``("57+612", "669")`` pairs: each operand has 1 to ``max_digits`` digits (the count
    uniform, then the value uniform among the numbers with that many digits, 0 counting as one
    digit), as in "Deep Learning from Scratch 2"'s ``addition.txt``. Repeated questions are dropped,
    which thins out the short ones: there are only 100 questions of two one-digit numbers."""
    num_examples, max_digits = _positive("num_examples", num_examples), _positive("max_digits", max_digits)
    rng = _rng(seed)

    def draw_batch(n: int) -> list[tuple[str, str]]:
        digits = rng.integers(1, max_digits + 1, size=(n, 2))
        low = np.where(digits == 1, 0, 10 ** (digits - 1))
        operands = rng.integers(low, 10 ** digits).tolist()  # (n, 2)
        return [(f"{a}+{b}", str(a + b)) for a, b in operands]

    return _distinct_pairs(num_examples, draw_batch, available=10 ** (2 * max_digits), task="addition")


# ---------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------

# English names written out: strftime's %B and %A follow the machine's locale.
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DATE_RANGE = (datetime.date(1950, 1, 1), datetime.date(2049, 12, 31))  # 100 years: "6/3/73" reads one way


def _month(d: datetime.date) -> str:
    return MONTHS[d.month - 1]


def _weekday(d: datetime.date) -> str:
    return WEEKDAYS[d.weekday()]


# Each surface form of a date, in lower case; casing (lower, Title, UPPER) is drawn separately.
DATE_FORMATS: dict[str, Callable[[datetime.date], str]] = {
    "month d, yyyy": lambda d: f"{_month(d)} {d.day}, {d.year}",  # september 27, 1994
    "mon d, yyyy": lambda d: f"{_month(d)[:3]} {d.day}, {d.year}",  # sep 27, 1994
    "weekday, month d, yyyy": lambda d: f"{_weekday(d)}, {_month(d)} {d.day}, {d.year}",  # tuesday, september 27, 1994
    "d month yyyy": lambda d: f"{d.day} {_month(d)} {d.year}",  # 27 september 1994
    "d mon yyyy": lambda d: f"{d.day} {_month(d)[:3]} {d.year}",  # 27 sep 1994
    "m/d/yy": lambda d: f"{d.month}/{d.day}/{d.year % 100:02d}",  # 9/27/94
    "mm/dd/yyyy": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}",  # 09/27/1994
    "yyyy.mm.dd": lambda d: f"{d.year}.{d.month:02d}.{d.day:02d}",  # 1994.09.27
}
CASINGS: tuple[Callable[[str], str], ...] = (str.lower, str.title, str.upper)
DATE_SOURCE_WIDTH = max(len(WEEKDAYS[i]) for i in range(7)) + len(", ") + max(map(len, MONTHS)) + len(" 27, 1994")
DATE_TARGET_WIDTH = len("1994-09-27")


def format_date(date: datetime.date, form: str, casing: Callable[[str], str] = str.lower) -> str:
    """``date`` written in the surface form ``form`` (a key of ``DATE_FORMATS``): the question."""
    if form not in DATE_FORMATS:
        raise ValueError(f"unknown date format {form!r}: choose one of {list(DATE_FORMATS)}")
    return casing(DATE_FORMATS[form](date))


def date_pairs(num_examples: int, seed: int | np.random.Generator = 0) -> list[tuple[str, str]]:
    """Distinct ``("september 27, 1994", "1994-09-27")`` pairs: a date uniform in ``DATE_RANGE``,
    a form uniform among ``DATE_FORMATS`` and a casing uniform among lower, Title and UPPER.
    The answer is always ISO 8601, ``date.isoformat()``."""
    num_examples = _positive("num_examples", num_examples)
    rng = _rng(seed)
    first, last = DATE_RANGE
    num_days = (last - first).days + 1
    forms = list(DATE_FORMATS)

    def draw_batch(n: int) -> list[tuple[str, str]]:
        days, form_ids, casing_ids = (rng.integers(k, size=n).tolist() for k in (num_days, len(forms), len(CASINGS)))
        dates = [first + datetime.timedelta(days=day) for day in days]
        return [(format_date(date, forms[f], CASINGS[c]), date.isoformat())
                for date, f, c in zip(dates, form_ids, casing_ids)]

    # Numeric forms have a single casing, so count distinct questions conservatively.
    return _distinct_pairs(num_examples, draw_batch, available=num_days * len(forms), task="the date task")


def _date_characters() -> str:
    names = "".join(MONTHS + WEEKDAYS)
    return names + names.upper() + "0123456789" + ",/.-"


# ---------------------------------------------------------------------------------------------
# The task: pairs, split and encoded
# ---------------------------------------------------------------------------------------------

@dataclass(eq=False)  # arrays have no single truth value: compare fields with np.array_equal
class Seq2seqTask:
    """A character-level seq2seq task, split and encoded.

    Taught in: book/07_seq2seq.md

    ``xs_*: (N, T_in)`` int64 question ids, padded (and reversed when ``reversed_input``);
    ``ts_*: (N, 1 + T_out)`` int64: START, then the answer padded to ``T_out = target_width``.
    Train a decoder on ``ts[:, :-1]`` against ``ts[:, 1:]``; the ``*_pairs`` keep the strings.
    """

    name: str
    vocab: Vocabulary
    source_width: int
    target_width: int
    reversed_input: bool
    train_pairs: list[tuple[str, str]]
    test_pairs: list[tuple[str, str]]
    xs_train: np.ndarray
    ts_train: np.ndarray
    xs_test: np.ndarray
    ts_test: np.ndarray

    pad_id = PAD_ID
    start_id = START_ID

    def encode_questions(self, questions: Sequence[str]) -> np.ndarray:
        """Questions -> ``(N, T_in)`` ids, padded and reversed as this task's ``xs``."""
        return encode_padded(questions, self.vocab, self.source_width, reverse=self.reversed_input)

    def decode_answers(self, ids: np.ndarray) -> list[str]:
        """Answer ids ``(N, T_out)`` (no START) -> strings without padding."""
        return decode_ids(ids, self.vocab)

    def with_reversed_input(self, reverse: bool = True) -> "Seq2seqTask":
        """The same task and split with the questions reversed (or not); the answers are shared."""
        if reverse == self.reversed_input:
            return self
        return replace(self, reversed_input=reverse, xs_train=self.xs_train[:, ::-1].copy(),
                       xs_test=self.xs_test[:, ::-1].copy())


def make_task(name: str, pairs: Sequence[tuple[str, str]], vocab: Vocabulary, source_width: int, target_width: int,
              test_fraction: float = 0.1, reverse_input: bool = False,
              seed: int | np.random.Generator = 0) -> Seq2seqTask:
    """Shuffle ``pairs`` (seeded), hold out ``test_fraction`` of them, and encode both splits."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    pairs = list(pairs)
    num_test = max(1, round(len(pairs) * test_fraction))
    if num_test >= len(pairs):
        raise ValueError(f"{len(pairs)} pairs leave nothing to train on with test_fraction={test_fraction}: "
                         "pass more examples")
    order = _rng(seed).permutation(len(pairs))
    shuffled = [pairs[i] for i in order]
    train_pairs, test_pairs = shuffled[num_test:], shuffled[:num_test]

    def encode(split: list[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
        questions, answers = zip(*split)
        xs = encode_padded(questions, vocab, source_width, reverse=reverse_input)
        answers_ids = encode_padded(answers, vocab, target_width)
        ts = np.concatenate([np.full((len(split), 1), START_ID, np.int64), answers_ids], axis=1)
        return xs, ts

    xs_train, ts_train = encode(train_pairs)
    xs_test, ts_test = encode(test_pairs)
    return Seq2seqTask(name, vocab, source_width, target_width, reverse_input, train_pairs, test_pairs,
                       xs_train, ts_train, xs_test, ts_test)


def addition_task(num_examples: int = 50_000, max_digits: int = 3, test_fraction: float = 0.1,
                  reverse_input: bool = False, seed: int = 0) -> Seq2seqTask:
    """The addition task: ``T_in = 2 max_digits + 1`` (7), ``T_out = max_digits + 1`` (4), V = 13.

    The defaults are the reference's: 50,000 pairs of numbers below 1000, 10% held out.
    """
    rng = np.random.default_rng(seed)
    pairs = addition_pairs(num_examples, max_digits, seed=rng)
    vocab = _character_vocabulary("+0123456789")
    return make_task("addition", pairs, vocab, 2 * max_digits + 1, max_digits + 1, test_fraction, reverse_input, rng)


def date_task(num_examples: int = 50_000, test_fraction: float = 0.1, reverse_input: bool = False,
              seed: int = 0) -> Seq2seqTask:
    """The date task: any of ``DATE_FORMATS`` -> ``yyyy-mm-dd``; ``T_in = 29``, ``T_out = 10``, V = 60."""
    rng = np.random.default_rng(seed)
    pairs = date_pairs(num_examples, seed=rng)
    vocab = _character_vocabulary(_date_characters())
    return make_task("dates", pairs, vocab, DATE_SOURCE_WIDTH, DATE_TARGET_WIDTH, test_fraction, reverse_input, rng)
