"""Plausible student bugs in exercise 04"""
# Plausible student bugs, each written into the solution: (answer cell, code replaced, replacement,
# the test cell that must catch it).
MUTANTS = {
    "dropout variance p where it is p / (1 - p)": (
        "dropout_sum_moments", "spread = p / (1 - p)", "spread = p", "test-dropout_sum_moments"),
    "variational masks treated as fresh ones": (
        "dropout_sum_moments", "spread * (xs.sum(axis=1) ** 2) @ (W ** 2)", "spread * (xs ** 2).sum(axis=1) @ (W ** 2)",
        "test-dropout_sum_moments"),
    "variational variance squares after the linear map, as if one draw served every unit": (
        "dropout_sum_moments", "spread * (xs.sum(axis=1) ** 2) @ (W ** 2)", "spread * (xs.sum(axis=1) @ W) ** 2",
        "test-dropout_sum_moments"),
    "tied gradient with fancy-index += loses repeated tokens": (
        "tied_embedding_lm_grads", "np.add.at(dE, ids, dlogits @ E)", "dE[ids] += dlogits @ E",
        "test-tied_embedding_lm_grads"),
    "tied gradient from the output use only": (
        "tied_embedding_lm_grads", "np.add.at(dE, ids, dlogits @ E)", "pass", "test-tied_embedding_lm_grads"),
    "log of a softmax that has underflowed to 0": (
        "tied_embedding_lm_grads", "log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))",
        "log_probs = np.log(np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True))", "test-tied_embedding_lm_grads"),
    "loss averaged over the sequences, summed over time": (
        "tied_embedding_lm_grads", "count = ids.size", "count = ids.shape[0]", "test-tied_embedding_lm_grads"),
    "cell gradient misses the output gate's peephole": (
        "peephole_lstm_step_backward", "dc = dc_next + dh_next * o * (1 - tanh_c**2) + da_o * P[2]",
        "dc = dc_next + dh_next * o * (1 - tanh_c**2)", "test-peephole_lstm_step_backward"),
    "old-cell gradient misses the input and forget peepholes": (
        "peephole_lstm_step_backward", "dc_prev = dc * f + da_i * P[0] + da_f * P[1]", "dc_prev = dc * f",
        "test-peephole_lstm_step_backward"),
    "output peephole gradient with the old cell in place of the new one": (
        "peephole_lstm_step_backward", "(da_o * c_next).sum(axis=0)", "(da_o * c_prev).sum(axis=0)",
        "test-peephole_lstm_step_backward"),
    "gate blocks in the order f, i, g, o": (
        "peephole_lstm_step_backward", "[da_i, da_f, da_g, da_o]", "[da_f, da_i, da_g, da_o]",
        "test-peephole_lstm_step_backward"),
    "recurrent gradient skips the dropout mask": (
        "peephole_lstm_sequence_backward", 'dh = step["dh_prev"] * mask', 'dh = step["dh_prev"]',
        "test-peephole_lstm_sequence_backward"),
    "mask applied to the outputs' gradient too": (
        "peephole_lstm_sequence_backward", "dhs[:, t] + dh, dc", "(dhs[:, t] + dh) * mask, dc",
        "test-peephole_lstm_sequence_backward"),
    "cell gradient not carried back through time": (
        "peephole_lstm_sequence_backward", 'dc = step["dc_prev"]', "dc = np.zeros_like(dc)",
        "test-peephole_lstm_sequence_backward"),
    "gradients carried back in float64 whatever the inputs' dtype": (
        "peephole_lstm_sequence_backward", "dh = np.zeros((N, H), dhs.dtype)", "dh = np.zeros((N, H))",
        "test-peephole_lstm_sequence_backward"),
    "weight gradients of one step, not summed over time": (
        "peephole_lstm_sequence_backward", "sums.get(name, 0) + step[name]", "step[name]",
        "test-peephole_lstm_sequence_backward"),
}
