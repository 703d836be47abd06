"""Plausible student bugs in exercise 09"""
# Plausible student bugs, each written into the solution: (answer cell, code replaced, replacement,
# the test cell that must catch it).
MUTANTS = {
    "actions drawn before keys (the draws in the wrong order)": (
        "mlm_mask", "keys = rng.random((N, T))\n    actions = rng.random((N, T))",
        "actions = rng.random((N, T))\n    keys = rng.random((N, T))", "test-mlm_mask"),
    "[CLS] and [SEP] treated as candidates (only padding excluded)": (
        "mlm_mask", "is_word = input_ids >= 4", "is_word = input_ids != 0", "test-mlm_mask"),
    "no minimum of one chosen position per row": (
        "mlm_mask", "np.maximum(1, np.round(mask_prob * n_words))", "np.round(mask_prob * n_words)", "test-mlm_mask"),
    "labels only where [MASK] was written, not at random or kept positions": (
        "mlm_mask", "labels = np.where(chosen, input_ids, -100)", "labels = np.where(masked_ids == 3, input_ids, -100)",
        "test-mlm_mask"),
    "random word and unchanged cases exchanged (random where actions >= 0.9)": (
        "mlm_mask", "to_random = chosen & (actions >= 0.8) & (actions < 0.9)", "to_random = chosen & (actions >= 0.9)",
        "test-mlm_mask"),
    "only the image-to-text direction": (
        "symmetric_info_nce", "loss = -(np.trace(log_rows) + np.trace(log_cols)) / (2 * N)",
        "loss = -np.trace(log_rows) / N", "test-symmetric_info_nce"),
    "column term not transposed back": (
        "symmetric_info_nce", "(np.exp(log_cols) - eye).T) / (2 * N)", "(np.exp(log_cols) - eye)) / (2 * N)",
        "test-symmetric_info_nce"),
    "gradient without 1/tau": (
        "symmetric_info_nce", "da = dscores @ b / temperature", "da = dscores @ b", "test-symmetric_info_nce"),
    "db from dS instead of dS^T": (
        "symmetric_info_nce", "db = dscores.T @ a / temperature", "db = dscores @ a / temperature",
        "test-symmetric_info_nce"),
    "budget checked without the sequence being added": (
        "token_budget_batches", "(len(batch) + 1) * max(longest, length) > max_tokens",
        "len(batch) * max(longest, length) > max_tokens", "test-token_budget_batches"),
    "a batch that fills the budget exactly is refused (>= instead of >)": (
        "token_budget_batches", "(len(batch) + 1) * max(longest, length) > max_tokens",
        "(len(batch) + 1) * max(longest, length) >= max_tokens", "test-token_budget_batches"),
    "the last batch is dropped": (
        "token_budget_batches", "    if batch:\n        batches.append(batch)\n    return batches", "    return batches",
        "test-token_budget_batches"),
    "too-long sequences silently get a batch of their own": (
        "token_budget_batches", "    if lengths.size and lengths.max() > max_tokens:", "    if False:",
        "test-token_budget_batches"),
}
