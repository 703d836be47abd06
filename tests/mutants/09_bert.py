"""Plausible student bugs in exercise 09"""
# Plausible student bugs, each written into the solution: (answer cell, code replaced, replacement,
# the test cell that must catch it).
MUTANTS = {
    # Task 1: CLIP's symmetric loss.
    "only the image-to-text direction": (
        "symmetric_info_nce", "loss = -(np.trace(log_rows) + np.trace(log_cols)) / (2 * N)",
        "loss = -np.trace(log_rows) / N", "test-symmetric_info_nce"),
    "text-to-image term not transposed back": (
        "symmetric_info_nce", "(np.exp(log_cols) - eye).T) / (2 * N)", "(np.exp(log_cols) - eye)) / (2 * N)",
        "test-symmetric_info_nce"),
    "db from dS instead of dS^T": (
        "symmetric_info_nce", "db = scale * (dscores.T @ a)", "db = scale * (dscores @ a)", "test-symmetric_info_nce"),
    "dlogit_scale without the chain rule through exp (the derivative with respect to the scale itself)": (
        "symmetric_info_nce", "dlogit_scale = np.sum(dscores * scores)", "dlogit_scale = np.sum(dscores * (a @ b.T))",
        "test-symmetric_info_nce"),
    "logit_scale used as the multiplier, not its exponential": (
        "symmetric_info_nce", "scale = np.exp(logit_scale)", "scale = logit_scale", "test-symmetric_info_nce"),
    "log-softmax without subtracting the maximum (overflows at a large scale)": (
        "symmetric_info_nce", "shifted = s - s.max(axis=1, keepdims=True)", "shifted = s", "test-symmetric_info_nce"),
    # Task 2: whole-word masking.
    "one fate per piece, not per word (Google's per-piece draw)": (
        "whole_word_mask", "fate = fate_at_start[rows, start_of]", "fate = fate_at_start", "test-whole_word_mask"),
    "the fate read from the same random numbers that chose the word": (
        "whole_word_mask", "fate_at_start = rng.random((N, T))", "fate_at_start = np.where(starts, keys, 0.0)",
        "test-whole_word_mask"),
    "one fate for the whole row": (
        "whole_word_mask", "fate_at_start = rng.random((N, T))", "fate_at_start = np.repeat(rng.random((N, 1)), T, axis=1)",
        "test-whole_word_mask"),
    "the same keys for every row (rows not independent)": (
        "whole_word_mask", "keys = np.where(starts, rng.random((N, T)), np.inf)",
        "keys = np.where(starts, rng.random((1, T)), np.inf)", "test-whole_word_mask"),
    "random pieces drawn below vocab_size - 1 (the last piece never drawn)": (
        "whole_word_mask", "rng.integers(4, vocab_size, size=(N, T))", "rng.integers(4, vocab_size - 1, size=(N, T))",
        "test-whole_word_mask"),
    "one random piece per word, copied to all its pieces": (
        "whole_word_mask", "masked_ids[to_random] = random_pieces[to_random]",
        "masked_ids[to_random] = random_pieces[rows, start_of][to_random]", "test-whole_word_mask"),
    "the number of chosen words computed from the number of pieces": (
        "whole_word_mask", "n_words = starts.sum(axis=1)", "n_words = is_piece.sum(axis=1)", "test-whole_word_mask"),
    # Task 3: the posteriors of masked words under an HMM.
    "forward pass only (filtering): the words after t are ignored": (
        "masked_word_posteriors", "gamma = alpha * beta ", "gamma = alpha ", "test-masked_word_posteriors"),
    "the word under the mask used as evidence": (
        "masked_word_posteriors", "likelihood = np.where(masked[:, None], 1.0, emission[:, words].T)",
        "likelihood = emission[:, words].T", "test-masked_word_posteriors"),
    "the backward pass without the next word's likelihood": (
        "masked_word_posteriors", "beta[t] = transition @ (likelihood[t + 1] * beta[t + 1]) / scales[t + 1]",
        "beta[t] = transition @ beta[t + 1] / scales[t + 1]", "test-masked_word_posteriors"),
    "the transition matrix transposed in the backward pass": (
        "masked_word_posteriors", "beta[t] = transition @ (likelihood[t + 1] * beta[t + 1]) / scales[t + 1]",
        "beta[t] = transition.T @ (likelihood[t + 1] * beta[t + 1]) / scales[t + 1]", "test-masked_word_posteriors"),
    "log_evidence from the last step's normalizer only": (
        "masked_word_posteriors", "log_evidence = np.log(scales).sum()", "log_evidence = np.log(scales[-1])",
        "test-masked_word_posteriors"),
    "unscaled forward-backward (right on short sentences, underflows on long ones)": (
        "masked_word_posteriors",
        "        alpha[t] = joint / scales[t]\n"
        "    beta = np.ones_like(likelihood)\n"
        "    for t in range(T - 2, -1, -1):\n"
        "        beta[t] = transition @ (likelihood[t + 1] * beta[t + 1]) / scales[t + 1]\n"
        "    gamma = alpha * beta ",
        "        alpha[t] = joint\n"
        "    beta = np.ones_like(likelihood)\n"
        "    for t in range(T - 2, -1, -1):\n"
        "        beta[t] = transition @ (likelihood[t + 1] * beta[t + 1])\n"
        "    scales = np.full(T, 1.0)\n"
        "    scales[-1] = alpha[-1].sum()\n"
        "    gamma = alpha * beta / scales[-1] ",
        "test-masked_word_posteriors"),
    "impossible evidence not detected": (
        "masked_word_posteriors", "        if scales[t] == 0:", "        if False:", "test-masked_word_posteriors"),
    # Task 4: the Bayes-optimal masked-LM accuracy.
    "only the visible word on the left is used": (
        "bayes_optimal_mlm_accuracy", "        if len(after):\n            right",
        "        if False:\n            right", "test-bayes_optimal_mlm_accuracy"),
    "the neighbours taken at t - 1 and t + 1 even when they are masked": (
        "bayes_optimal_mlm_accuracy", "before, after = visible[visible < t], visible[visible > t]",
        "before, after = np.arange(T)[max(t - 1, 0):t], np.arange(T)[t + 1:t + 2]", "test-bayes_optimal_mlm_accuracy"),
    "the distribution of every word taken as the initial one": (
        "bayes_optimal_mlm_accuracy", "marginals.append(marginals[-1] @ transition)", "marginals.append(initial)",
        "test-bayes_optimal_mlm_accuracy"),
    "one guess for all contexts (the maximum taken after summing over the neighbours)": (
        "bayes_optimal_mlm_accuracy", "accuracies.append(joint.max(axis=1).sum())",
        "accuracies.append(joint.sum(axis=(0, 2)).max())", "test-bayes_optimal_mlm_accuracy"),
    "one step too few to the right neighbour": (
        "bayes_optimal_mlm_accuracy", "np.linalg.matrix_power(transition, after[0] - t)",
        "np.linalg.matrix_power(transition, after[0] - t - 1)", "test-bayes_optimal_mlm_accuracy"),
    "the initial distribution used at t when no word before t is visible": (
        "bayes_optimal_mlm_accuracy", "            left = marginals[t][None, :]", "            left = initial[None, :]",
        "test-bayes_optimal_mlm_accuracy"),
}
