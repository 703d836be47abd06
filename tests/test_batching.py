"""Length bucketing, token-budget batches and padding (seqlab.batching)."""
import numpy as np
import pytest

from seqlab.batching import bucket_batches, pad_sequences, padding_fraction, random_batches, token_budget_batches


def lengths_of(seed=0, M=500):
    return np.random.default_rng(seed).integers(1, 60, size=M)


@pytest.mark.parametrize("make", [lambda L: random_batches(L, 16, np.random.default_rng(1)),
                                  lambda L: bucket_batches(L, 16, np.random.default_rng(1)),
                                  lambda L: token_budget_batches(L, 256)])
def test_every_sequence_lands_in_exactly_one_batch(make):
    lengths = lengths_of()
    batches = make(lengths)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))


def test_bucketing_pads_much_less_than_random_batches():
    lengths = lengths_of()
    random_waste = padding_fraction(lengths, random_batches(lengths, 32, np.random.default_rng(0)))
    bucket_waste = padding_fraction(lengths, bucket_batches(lengths, 32, np.random.default_rng(0)))
    assert random_waste > 0.3 and bucket_waste < 0.1, (random_waste, bucket_waste)


def test_bucket_batches_are_sorted_runs_in_shuffled_order():
    lengths = lengths_of()
    batches = bucket_batches(lengths, 32, np.random.default_rng(0))
    spans = [(lengths[b].min(), lengths[b].max()) for b in batches]
    ordered = sorted(spans)
    assert all(hi <= next_lo for (_, hi), (next_lo, _) in zip(ordered, ordered[1:]))
    assert spans != ordered, "the batches should come in a random order, not shortest first"
    assert all(len(b) == 32 for b in batches[:-1] if len(b) != len(lengths) % 32)


def test_token_budget_batches_respect_the_budget_and_are_greedy():
    lengths = lengths_of()
    batches = token_budget_batches(lengths, 300)
    for batch, following in zip(batches, batches[1:]):
        assert len(batch) * lengths[batch].max() <= 300
        grown = batch + following[:1]
        assert len(grown) * lengths[grown].max() > 300, "a batch was closed although the next sequence fit"
    assert [int(lengths[b].min()) for b in batches] == sorted(int(lengths[b].min()) for b in batches)


def test_token_budget_rejects_a_sequence_that_cannot_fit():
    with pytest.raises(ValueError, match="max_tokens"):
        token_budget_batches(np.array([3, 50]), 40)


def test_padding_fraction_and_pad_sequences_by_hand():
    lengths = np.array([2, 4, 3])
    assert padding_fraction(lengths, [[0, 1], [2]]) == pytest.approx(1 - 9 / 11)
    padded = pad_sequences([[5, 6], [7], []], pad_id=0, length=3)
    np.testing.assert_array_equal(padded, [[5, 6, 0], [7, 0, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match="length"):
        pad_sequences([[1, 2, 3]], 0, length=2)


def test_bad_lengths_are_named():
    with pytest.raises(ValueError, match="lengths"):
        bucket_batches(np.array([1.5, 2.0]), 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="batch_size"):
        random_batches(np.array([1, 2]), 0, np.random.default_rng(0))
