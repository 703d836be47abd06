"""Plausible student bugs in exercise 10"""
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
    # Task 2: the highway layer with its own carry gate.
    "the chapter's tied carry gate, 1 - t, in the forward pass": (
        "carry_gate_highway", "return h * t + x * c", "return h * t + x * (1 - t)", "test-carry_gate_highway"),
    "the transform gate and the carry gate read from each other's columns": (
        "carry_gate_highway", "t = logistic(pre[..., D:2 * D])\n    c = logistic(pre[..., 2 * D:])",
        "t = logistic(pre[..., 2 * D:])\n    c = logistic(pre[..., D:2 * D])", "test-carry_gate_highway"),
    "the transform gate's gradient of the tied layer, dy (h - x)": (
        "carry_gate_highway", "dt_pre = dy * h * t * (1 - t)", "dt_pre = dy * (h - x) * t * (1 - t)",
        "test-carry_gate_highway"),
    "tanh's derivative taken as 1 - h": (
        "carry_gate_highway", "dh_pre = dy * t * (1 - h**2)", "dh_pre = dy * t * (1 - h)", "test-carry_gate_highway"),
    "dx without the direct path through the carry": (
        "carry_gate_highway", "dx = dy * c + dpre @ W.T", "dx = dpre @ W.T", "test-carry_gate_highway"),
    "dx through the carry only, not through the pre-activations": (
        "carry_gate_highway", "dx = dy * c + dpre @ W.T", "dx = dy * c", "test-carry_gate_highway"),
    "dW and db written for x of shape (N, D) only": (
        "carry_gate_highway", "flat_x, flat_dpre = x.reshape(-1, D), dpre.reshape(-1, 3 * D)",
        "flat_x, flat_dpre = x, dpre", "test-carry_gate_highway"),
    "the sigmoid as exp(z) / (1 + exp(z)) (NaN where a gate is wide open)": (
        "carry_gate_highway", "logistic = lambda z: np.exp(-np.logaddexp(0, -z))",
        "logistic = lambda z: np.exp(z) / (1 + np.exp(z))", "test-carry_gate_highway"),
    # Task 3: the exact padding of random batches.
    "the lengths used in the given order, not sorted": (
        "expected_random_padding", "ordered = np.sort(np.asarray(lengths, dtype=np.float64))",
        "ordered = np.asarray(lengths, dtype=np.float64)", "test-expected_random_padding"),
    "the last, smaller batch left out: 1 - mean length / expected longest of a full batch": (
        "expected_random_padding", "return float(1.0 - ordered.sum() / positions)",
        "return float(1.0 - ordered.mean() / expected_longest(min(batch_size, M)))", "test-expected_random_padding"),
    "the last, smaller batch padded like a full one": (
        "expected_random_padding", "positions = rest * expected_longest(rest) if rest else 0.0",
        "positions = rest * expected_longest(min(batch_size, M)) if rest else 0.0", "test-expected_random_padding"),
    "batches drawn with replacement (each length an independent draw)": (
        "expected_random_padding", "return float(ordered[k - 1:] @ p)",
        "return float(ordered @ ((np.arange(1, M + 1) / M) ** k - (np.arange(M) / M) ** k))",
        "test-expected_random_padding"),
    "the rank of the longest off by one: C(i, k - 1) for C(i - 1, k - 1)": (
        "expected_random_padding", "math.lgamma(i) - math.lgamma(i - k + 1)", "math.lgamma(i + 1) - math.lgamma(i - k + 2)",
        "test-expected_random_padding"),
    "the binomials computed as floats (they overflow for 20,000 sequences)": (
        "expected_random_padding", "p = np.exp(log_p)",
        "p = np.array([math.comb(i - 1, k - 1) for i in ranks], dtype=float) / math.comb(M, k)",
        "test-expected_random_padding"),
}
