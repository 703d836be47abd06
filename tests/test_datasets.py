"""The seq2seq data sets: seeded, distinct, correct answers, and the documented encoding."""
import datetime

import numpy as np
import pytest

from seqlab.datasets import (DATE_FORMATS, DATE_RANGE, DATE_SOURCE_WIDTH, PAD_ID, START_ID, addition_pairs,
                             addition_task, date_pairs, date_task, decode_ids, encode_padded, format_date, move_padding_left,
                             pad)


def test_addition_pairs_are_seeded_distinct_and_correct():
    pairs = addition_pairs(2000, max_digits=3, seed=5)
    assert pairs == addition_pairs(2000, max_digits=3, seed=5)
    assert pairs != addition_pairs(2000, max_digits=3, seed=6)
    questions = [q for q, _ in pairs]
    assert len(set(questions)) == len(questions) == 2000
    for question, answer in pairs:
        a, b = question.split("+")
        assert int(a) + int(b) == int(answer) and len(a) <= 3 and len(b) <= 3
        assert str(int(a)) == a and str(int(b)) == b, "no leading zeros"
    assert {len(q.split("+")[0]) for q in questions} == {1, 2, 3}


def test_addition_task_shapes_vocabulary_and_teacher_forcing_layout():
    task = addition_task(3000, test_fraction=0.2, seed=1)
    assert task.vocab.tokens[:2] == [" ", "_"] and len(task.vocab) == 13
    assert task.xs_train.shape == (2400, 7) and task.xs_test.shape == (600, 7)
    assert task.ts_train.shape == (2400, 5) and task.xs_train.dtype == np.int64
    assert (task.ts_train[:, 0] == START_ID).all() and (task.ts_train[:, 1:] != START_ID).all()
    assert task.decode_answers(task.ts_train[:, 1:]) == [a for _, a in task.train_pairs]
    assert decode_ids(task.xs_test, task.vocab) == [q for q, _ in task.test_pairs]
    train_questions = {q for q, _ in task.train_pairs}
    assert not train_questions & {q for q, _ in task.test_pairs}, "a test question is also a training question"


def test_reversed_input_reverses_each_padded_row_and_keeps_the_answers():
    task = addition_task(500, seed=2)
    reversed_task = addition_task(500, seed=2, reverse_input=True)
    np.testing.assert_array_equal(reversed_task.xs_train, task.xs_train[:, ::-1])
    np.testing.assert_array_equal(reversed_task.ts_train, task.ts_train)
    flipped = task.with_reversed_input()
    np.testing.assert_array_equal(flipped.xs_test, reversed_task.xs_test)
    assert flipped.reversed_input and task.with_reversed_input(False) is task
    assert reversed_task.encode_questions(["57+612"]).tolist() == [task.vocab.encode(list(" 216+75")).tolist()]


def test_pad_encode_and_decode_round_trip():
    task = addition_task(200, seed=0)
    assert pad("57+6", 7) == "57+6   "
    ids = encode_padded(["57+612", "1+2"], task.vocab, 7)
    assert ids.shape == (2, 7) and ids[1, 3:].tolist() == [PAD_ID] * 4
    np.testing.assert_array_equal(encode_padded(["57+612", "1+2"], task.vocab, 7, reverse=True), ids[:, ::-1])
    assert decode_ids(ids[:, ::-1], task.vocab, reverse=True) == ["57+612", "1+2"]


def test_errors_name_the_input_and_the_fix():
    task = addition_task(200, seed=0)
    with pytest.raises(ValueError, match="width of at least 8"):
        pad("12345678", 7)
    with pytest.raises(KeyError, match=r"\['x'\]"):
        encode_padded(["1x2"], task.vocab, 7)
    with pytest.raises(TypeError, match="list of strings"):
        encode_padded("57+6", task.vocab, 7)
    with pytest.raises(ValueError, match="at most 50"):
        addition_pairs(51, max_digits=1)
    with pytest.raises(ValueError, match="unknown date format"):
        format_date(datetime.date(2000, 1, 1), "dd-mm-yyyy")


def test_date_pairs_answer_iso_dates_in_range_and_every_form_appears():
    pairs = date_pairs(3000, seed=3)
    assert pairs == date_pairs(3000, seed=3)
    questions = [q for q, _ in pairs]
    assert len(set(questions)) == 3000
    first, last = DATE_RANGE
    for _, answer in pairs:
        assert first <= datetime.date.fromisoformat(answer) <= last
    assert max(map(len, questions)) <= DATE_SOURCE_WIDTH
    assert any(q.isupper() for q in questions) and any(q.islower() for q in questions)
    assert any(q[0].isupper() and not q.isupper() for q in questions), "title case appears"


@pytest.mark.parametrize("form, expected", [
    ("month d, yyyy", "september 27, 1994"), ("mon d, yyyy", "sep 27, 1994"),
    ("weekday, month d, yyyy", "tuesday, september 27, 1994"), ("d month yyyy", "27 september 1994"),
    ("d mon yyyy", "27 sep 1994"), ("m/d/yy", "9/27/94"), ("mm/dd/yyyy", "09/27/1994"), ("yyyy.mm.dd", "1994.09.27"),
])
def test_every_date_format_on_a_known_day(form, expected):
    assert format_date(datetime.date(1994, 9, 27), form) == expected
    assert set(DATE_FORMATS) >= {form}


def test_the_longest_date_question_fits_the_source_width():
    longest = format_date(datetime.date(2049, 9, 29), "weekday, month d, yyyy")  # a wednesday in september
    assert longest.startswith("wednesday, september") and len(longest) == DATE_SOURCE_WIDTH == 29


def test_date_task_encodes_every_character_and_decodes_back():
    task = date_task(2000, seed=4)
    assert task.xs_train.shape == (1800, 29) and task.ts_train.shape == (1800, 11)
    assert task.decode_answers(task.ts_test[:, 1:]) == [a for _, a in task.test_pairs]
    assert decode_ids(task.xs_train, task.vocab) == [q for q, _ in task.train_pairs]
    assert len(task.vocab) == 60


def test_move_padding_left_moves_only_the_trailing_padding():
    task = date_task(300, seed=5)
    questions = ["9 may 1994", "57", "", "wednesday, september 29, 2049"]  # inner spaces, short, empty, full width
    right = encode_padded(questions, task.vocab, 29)
    left = move_padding_left(right)
    assert ["".join(task.vocab.decode(row)) for row in left] == [q.rjust(29) for q in questions]
    assert left.dtype == right.dtype
    left_test = move_padding_left(task.xs_test)
    assert decode_ids(left_test, task.vocab) == [q for q, _ in task.test_pairs]
    assert (left_test[:, -1] != PAD_ID).all(), "every question now ends at the last position"
    with pytest.raises(ValueError, match=r"shape \(N, T\)"):
        move_padding_left(right[0])
