"""Plausible student bugs in exercise 04"""
# Plausible student bugs, each written into the solution: (answer cell, code replaced, replacement,
# the test cell that must catch it).
MUTANTS = {
    "forget gate gradient with c_next in place of c_prev": (
        "lstm_cell_backward", "df = dc * c_prev", "df = dc * (cache['f'] * c_prev + i * g)", "test-lstm_cell_backward"),
    "cell gradient misses the path through h_next": (
        "lstm_cell_backward", "dc = dc_next + dh_next * o * (1 - tanh_c**2)", "dc = dc_next + dh_next * o",
        "test-lstm_cell_backward"),
    "gate blocks in the order f, i, g, o": (
        "lstm_cell_backward", "[di * i * (1 - i), df * f * (1 - f),", "[df * f * (1 - f), di * i * (1 - i),",
        "test-lstm_cell_backward"),
    "dropout without the 1 / (1 - p) scaling": (
        "variational_dropout", "((draws >= p) / (1 - p))", "((draws >= p) * 1.0)", "test-variational_dropout"),
    "dropout keeps the units it should drop": (
        "variational_dropout", "((draws >= p) / (1 - p))", "((draws < p) / (1 - p))", "test-variational_dropout"),
    "tied gradient with fancy-index += loses repeated tokens": (
        "tied_embedding_lm_grads", "np.add.at(dE, ids, dlogits @ E)", "dE[ids] += dlogits @ E",
        "test-tied_embedding_lm_grads"),
    "tied gradient from the output use only": (
        "tied_embedding_lm_grads", "np.add.at(dE, ids, dlogits @ E)", "pass", "test-tied_embedding_lm_grads"),
}
