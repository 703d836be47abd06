"""Plausible student bugs in exercise 01"""
# Plausible student bugs, each written into the solution: (answer cell, code replaced, replacement,
# the test cell that must catch it).
MUTANTS = {
    "log_softmax without the max shift": (
        "log_softmax", "shifted = x - m", "shifted = x", "test-log_softmax"),
    "cross-entropy averaged over padding too": (
        "sequence_cross_entropy", "* counted[..., None] / count", "* counted[..., None] / targets.size",
        "test-sequence_cross_entropy"),
    "KL without the 0 log 0 convention": (
        "kl_divergence", "return np.sum(np.where(p > 0, terms, 0.0), axis=-1)", "return np.sum(terms, axis=-1)",
        "test-kl_divergence"),
    "distillation gradient not divided by N": (
        "distillation_loss", "dlogits = (np.exp(logq) - p) / N", "dlogits = np.exp(logq) - p",
        "test-distillation_loss"),
}
