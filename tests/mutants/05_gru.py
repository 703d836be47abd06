"""Plausible student bugs in exercise 05"""
# Plausible student bugs, each written into the solution: (answer cell, code replaced, replacement,
# the test cell that must catch it).
MUTANTS = {
    "da_n without the (1 - z) factor of the mix": (
        "gru_gate_backward", "da_n = dh_next * (1 - z) * (1 - n**2)", "da_n = dh_next * (1 - n**2)",
        "test-gru_gate_backward"),
    "da_z with the textbook sign, n - h_prev": (
        "gru_gate_backward", "da_z = dh_next * (h_prev - n) * z * (1 - z)", "da_z = dh_next * (n - h_prev) * z * (1 - z)",
        "test-gru_gate_backward"),
    "da_r through h_prev, as if the reset gate acted before the matmul (Cho et al.)": (
        "gru_gate_backward", "da_r = da_n * hn * r * (1 - r)", "da_r = da_n * h_prev * r * (1 - r)",
        "test-gru_gate_backward"),
    "the state's n block not scaled by the reset gate": (
        "gru_cell_backward", "dha = np.concatenate([da_r, da_z, r * da_n], axis=1)",
        "dha = np.concatenate([da_r, da_z, da_n], axis=1)", "test-gru_cell_backward"),
    "dh_prev without the direct path z * h_prev": (
        "gru_cell_backward", "dh_prev = dh_next * z + dha @ Wh.T", "dh_prev = dha @ Wh.T", "test-gru_cell_backward"),
    "db_hn from the input side's n gradient": (
        "gru_cell_backward", "db_hn = dha[:, 2 * H:].sum(axis=0)", "db_hn = dxa[:, 2 * H:].sum(axis=0)",
        "test-gru_cell_backward"),
    "textbook convention still keeps z": (
        "update_gate_retention", "keep = 1 - z  #", "keep = z  #", "test-update_gate_retention"),
    "retention multiplies the gates of steps 1..t-1 only (exclusive product)": (
        "update_gate_retention", "return np.cumprod(keep, axis=1)",
        "return np.cumprod(np.concatenate([np.ones_like(keep[:, :1]), keep[:, :-1]], axis=1), axis=1)",
        "test-update_gate_retention"),
    "memory span counts the steps whose own gate passes the threshold": (
        "update_gate_retention", "return np.sum(retention >= threshold, axis=1)",
        "return np.sum(np.asarray(z) >= threshold, axis=1)", "test-update_gate_retention"),
    "memory span ignores the threshold argument": (
        "update_gate_retention", "return np.sum(retention >= threshold, axis=1)",
        "return np.sum(retention >= 0.5, axis=1)", "test-update_gate_retention"),
}
