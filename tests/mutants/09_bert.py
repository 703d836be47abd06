"""Plausible student bugs in exercise 09"""
# Plausible student bugs, each written into the solution: (answer cell, code replaced, replacement,
# the test cell that must catch it).
MUTANTS = {
    # Task 1: whole-word masking.
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
    # Task 2: the backward pass of BERT's masked-LM head.
    "LayerNorm's epsilon 1e-5 (PyTorch's default) instead of BERT's 1e-12": (
        "mlm_head_loss_and_grads", "keepdims=True) + 1e-12)", "keepdims=True) + 1e-5)", "test-mlm_head_loss_and_grads"),
    "the GELU's derivative without the derivative of its tanh": (
        "mlm_head_loss_and_grads", "dgelu = 0.5 * (1 + th) + 0.5 * u * (1 - th**2) * k * (1 + 3 * 0.044715 * u**2)",
        "dgelu = 0.5 * (1 + th)", "test-mlm_head_loss_and_grads"),
    "the derivative of x + 0.044715 x^3 written 1 + 0.044715 x^2": (
        "mlm_head_loss_and_grads", "(1 + 3 * 0.044715 * u**2)", "(1 + 0.044715 * u**2)", "test-mlm_head_loss_and_grads"),
    "LayerNorm's backward without the path through the variance": (
        "mlm_head_loss_and_grads",
        "dg = inv_sigma * (dg_hat - dg_hat.mean(axis=1, keepdims=True)\n"
        "                      - g_hat * np.mean(dg_hat * g_hat, axis=1, keepdims=True))",
        "dg = inv_sigma * (dg_hat - dg_hat.mean(axis=1, keepdims=True))", "test-mlm_head_loss_and_grads"),
    "LayerNorm's backward without the path through the mean": (
        "mlm_head_loss_and_grads", "dg = inv_sigma * (dg_hat - dg_hat.mean(axis=1, keepdims=True)\n",
        "dg = inv_sigma * (dg_hat\n", "test-mlm_head_loss_and_grads"),
    "the mean taken over every position, not over the chosen ones": (
        "mlm_head_loss_and_grads", "count = len(targets)", "count = labels.size", "test-mlm_head_loss_and_grads"),
    "dW transposed (W is square, so the shape does not tell)": (
        "mlm_head_loss_and_grads", "dW = x.T @ du", "dW = du.T @ x", "test-mlm_head_loss_and_grads"),
    "dE from the normalized features, before gamma and beta": (
        "mlm_head_loss_and_grads", "dE = dlogits.T @ y ", "dE = dlogits.T @ g_hat ", "test-mlm_head_loss_and_grads"),
    "the softmax without subtracting the largest logit (overflows at logits in the thousands)": (
        "mlm_head_loss_and_grads", "shifted = logits - logits.max(axis=1, keepdims=True)", "shifted = logits",
        "test-mlm_head_loss_and_grads"),
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
