"""Plausible student bugs in exercise 02"""
# Plausible student bugs, each written into the solution: (answer cell, code replaced, replacement,
# the test cell that must catch it).
MUTANTS = {
    "padded step drops the gradient it should pass back to h_{t-1}": (
        "masked_rnn_backward", "dh = dh_through_step + (1 - m) * g", "dh = dh_through_step",
        "test-masked_rnn_backward"),
    "padded steps not masked: they send gradient through tanh into x_t and the weights": (
        "masked_rnn_backward", "rnn_step_backward(m * g,", "rnn_step_backward(g,",
        "test-masked_rnn_backward"),
    "dhs at padded positions ignored": (
        "masked_rnn_backward", "g = dhs[:, t] + dh", "g = m * dhs[:, t] + dh",
        "test-masked_rnn_backward"),
    "offsets n * (L - 1) // N instead of n * ((L - 1) // N)": (
        "bptt_batches", "offsets = np.arange(batch_size) * row_length",
        "offsets = np.arange(batch_size) * (len(ids) - 1) // batch_size", "test-bptt_batches"),
    "rows of a block read consecutive stretches, so no row continues itself": (
        "bptt_batches", "positions = offsets[:, None] + k * time_size + np.arange(time_size)",
        "positions = (k * batch_size + np.arange(batch_size))[:, None] * time_size + np.arange(time_size)",
        "test-bptt_batches"),
    "a corpus too short for one block returns no blocks instead of raising": (
        "bptt_batches", "if num_blocks < 1:", "if num_blocks < 0:", "test-bptt_batches"),
    "stationary distribution from the right eigenvector (uniform) instead of the left": (
        "markov_optimal_perplexity", "np.linalg.eig(P.T)", "np.linalg.eig(P)", "test-markov_optimal_perplexity"),
    "0 log 0 computed as NaN": (
        "markov_optimal_perplexity", "P * np.log(np.where(P > 0, P, 1.0))", "P * np.log(P)",
        "test-markov_optimal_perplexity"),
}
