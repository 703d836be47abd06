"""The synthetic tasks: seeded, the documented shapes, and targets that follow from the inputs."""
import numpy as np
import pytest

from seqlab.tasks import adding_problem, long_range_recall


def test_adding_problem_marks_one_number_in_each_half_and_sums_them():
    xs, ts = adding_problem(50, 12, seed=3)
    assert xs.shape == (50, 12, 2) and ts.shape == (50, 1)
    assert xs.dtype == np.float32 and ts.dtype == np.float32
    values, markers = xs[..., 0], xs[..., 1]
    assert ((values >= 0) & (values <= 1)).all()
    assert (markers[:, :6].sum(axis=1) == 1).all() and (markers[:, 6:].sum(axis=1) == 1).all()
    np.testing.assert_allclose(ts[:, 0], (values * markers).sum(axis=1), rtol=1e-6)


def test_adding_problem_baseline_is_one_sixth():
    _, ts = adding_problem(20000, 10, seed=0)
    assert np.mean((ts - 1.0) ** 2) == pytest.approx(1 / 6, rel=0.03)


def test_recall_target_is_the_first_symbol():
    xs, ts = long_range_recall(40, lag=7, num_symbols=5, seed=1)
    assert xs.shape == (40, 8, 5) and ts.shape == (40,)
    assert xs.dtype == np.float32 and np.issubdtype(ts.dtype, np.integer)
    assert (xs.sum(axis=-1) == 1).all(), "every step is one-hot"
    np.testing.assert_array_equal(xs[:, 0].argmax(-1), ts)
    assert set(np.unique(ts)) == set(range(5))


@pytest.mark.parametrize("make", [lambda seed: adding_problem(8, 6, seed=seed),
                                  lambda seed: long_range_recall(8, 6, seed=seed)], ids=["adding", "recall"])
def test_tasks_are_seeded(make):
    for a, b in zip(make(0), make(0)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(make(0)[0], make(1)[0])
    for a, b in zip(make(np.random.default_rng(5)), make(5)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("call, message", [
    (lambda: adding_problem(0, 10), "num_sequences must be an integer >= 1"),
    (lambda: adding_problem(4, 1), "T must be an integer >= 2"),
    (lambda: long_range_recall(4, 0), "lag must be an integer >= 1"),
    (lambda: long_range_recall(4, 3, num_symbols=1), "num_symbols must be an integer >= 2"),
    (lambda: long_range_recall(4, 2.5), "lag must be an integer"),
])
def test_bad_sizes_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
