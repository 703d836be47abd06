"""The exercise checkers pass correct answers and explain wrong ones."""
import numpy as np
import pytest

from seqlab.checks import check_array, check_close


def test_check_close_passes_equal_arrays_and_matching_infinities():
    check_close("kl", np.array([0.1, np.inf]), np.array([0.1, np.inf]))


@pytest.mark.parametrize(
    "got, message",
    [
        (None, "forget to `return`"),
        ([1.0, 2.0], "should be a NumPy array, got list"),
        (np.zeros((3, 2)), r"wrong shape: expected \(2, 3\), got \(3, 2\)"),
        (np.full((2, 3), np.nan), "contains NaN"),
        (np.ones((2, 3)) * 1.1, "largest relative error"),
    ],
)
def test_check_close_explains_what_is_wrong(got, message):
    with pytest.raises(AssertionError, match=message):
        check_close("dW", got, np.ones((2, 3)))


def test_check_close_catches_a_missing_infinity():
    with pytest.raises(AssertionError, match="index"):
        check_close("kl", np.array([0.1, 5.0]), np.array([0.1, np.inf]))


def test_check_close_includes_the_hint():
    with pytest.raises(AssertionError, match="check the max shift"):
        check_close("out", np.array([2.0]), np.array([1.0]), hint="check the max shift")


def test_check_array_returns_an_array():
    assert check_array("x", 3.0).shape == ()
