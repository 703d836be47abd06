"""Plausible student bugs in exercise 05"""
# Plausible student bugs, each written into the solution: (answer cell, code replaced, replacement,
# the test cell that must catch it).
MUTANTS = {
    # Task 1: the update gate's bias for a chosen span, in either convention.
    "textbook convention returns PyTorch's bias (its z taken as the share of the old state)": (
        "update_bias_for_span", 'return -bias if convention == "textbook" else bias', "return bias",
        "test-update_bias_for_span"),
    "1 - q as a difference, which loses the digits of long spans": (
        "update_bias_for_span", "bias = log_keep - np.log(-np.expm1(log_keep))",
        "bias = log_keep - np.log(1 - np.exp(log_keep))", "test-update_bias_for_span"),
    "a span of 0 steps not set apart (0 / 0 gives NaN at threshold 1)": (
        "update_bias_for_span", "np.where(span == 0, -np.inf, bias)", "bias", "test-update_bias_for_span"),
    "threshold ignored: the bias that keeps half of the state": (
        "update_bias_for_span", "np.log(np.float64(threshold))", "np.log(0.5)", "test-update_bias_for_span"),
    "share kept per step from threshold ** span, not threshold ** (1 / span)": (
        "update_bias_for_span", "np.log(np.float64(threshold)) / span", "np.log(np.float64(threshold)) * span",
        "test-update_bias_for_span"),
    "no check that the threshold is a share, in [0, 1]": (
        "update_bias_for_span", "if not 0 <= threshold <= 1:", "if False:", "test-update_bias_for_span"),
    # Task 2: DLFS2's weights in nn.GRUCell's layout.
    "DLFS2's update gate copied as it is, not relabeled (z for 1 - z)": (
        "dlfs2_gru_to_torch_layout", "flip = -1", "flip = 1", "test-dlfs2_gru_to_torch_layout"),
    "only a diagonal W_hh converts (a candidate reading one other state unit raises)": (
        "dlfs2_gru_to_torch_layout", "ambiguous = np.flatnonzero(reads.sum(axis=0) > 1)",
        "ambiguous = np.flatnonzero((reads & ~np.eye(H, dtype=bool)).any(axis=0))", "test-dlfs2_gru_to_torch_layout"),
    "reset gates not rewired: unit k keeps DLFS2's reset gate k": (
        "dlfs2_gru_to_torch_layout", "source = np.where(reads.any(axis=0), reads.argmax(axis=0), np.arange(H))",
        "source = np.arange(H)", "test-dlfs2_gru_to_torch_layout"),
    "DLFS2's candidate bias put in bias_hh, where the reset gate scales it": (
        "dlfs2_gru_to_torch_layout", "bias_hh = np.zeros_like(bias_ih)",
        "bias_hh = np.concatenate([np.zeros_like(bias_ih[:2 * H]), b_n])\n"
        "    bias_ih = np.concatenate([bias_ih[:2 * H], np.zeros_like(b_n)])", "test-dlfs2_gru_to_torch_layout"),
    "never raises: converts every weight as if the reset gate acted after the matmul": (
        "dlfs2_gru_to_torch_layout", "if ambiguous.size:", "if False:", "test-dlfs2_gru_to_torch_layout"),
    # Task 3: the backward pass of Cho et al.'s GRU (reset gate before the matmul).
    "dWh's candidate block from h_prev, not from r * h_prev": (
        "reset_before_gru_backward", "rh.T @ da_n", "h_prev.T @ da_n", "test-reset_before_gru_backward"),
    "reset gate's gradient as if r acted after the matmul (PyTorch's variant)": (
        "reset_before_gru_backward", "da_r = drh * h_prev * r * (1 - r)",
        "da_r = da_n * (h_prev @ Wh_n) * r * (1 - r)", "test-reset_before_gru_backward"),
    "dh_prev through the candidate's matmul without the reset gate": (
        "reset_before_gru_backward", "dh_prev = dh_next * z + drh * r +", "dh_prev = dh_next * z + drh +",
        "test-reset_before_gru_backward"),
    "dh_prev without the direct path z * h_prev": (
        "reset_before_gru_backward", "dh_prev = dh_next * z + drh * r +", "dh_prev = drh * r +",
        "test-reset_before_gru_backward"),
    "da_z with the textbook sign, n - h_prev": (
        "reset_before_gru_backward", "da_z = dh_next * (h_prev - n) * z * (1 - z)",
        "da_z = dh_next * (n - h_prev) * z * (1 - z)", "test-reset_before_gru_backward"),
}
