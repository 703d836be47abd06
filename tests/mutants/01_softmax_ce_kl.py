"""Plausible student bugs in exercise 01"""
# Plausible student bugs, each written into the solution: (answer cell, code replaced, replacement,
# the test cell that must catch it).
MUTANTS = {
    "smoothed target without the uniform share of the true class": (
        "label_smoothing_optimum", "on = 1 - eps + eps / V", "on = 1 - eps", "test-label_smoothing_optimum"),
    "smoothing spread over the V - 1 wrong classes only": (
        "label_smoothing_optimum", "off = eps / V", "off = eps / (V - 1)", "test-label_smoothing_optimum"),
    "optimal loss counts one wrong class instead of V - 1": (
        "label_smoothing_optimum", "- (V - 1) * (off", "- (off", "test-label_smoothing_optimum"),
    "smoothed cross-entropy spreads the smoothing over the wrong classes only": (
        "smoothed_sequence_cross_entropy", "smoothed = (1 - smoothing) * onehot + smoothing / V",
        "smoothed = (1 - smoothing) * onehot + smoothing / (V - 1) * (1 - onehot)",
        "test-smoothed_sequence_cross_entropy"),
    "smoothed cross-entropy gradient against the one-hot target": (
        "smoothed_sequence_cross_entropy", "dlogits = (np.exp(log_probs) - smoothed)",
        "dlogits = (np.exp(log_probs) - onehot)", "test-smoothed_sequence_cross_entropy"),
    "smoothed cross-entropy gradient averaged over padding too": (
        "smoothed_sequence_cross_entropy", "* counted[..., None] / count", "* counted[..., None] / targets.size",
        "test-smoothed_sequence_cross_entropy"),
    "smoothed cross-entropy loss counts padding positions": (
        "smoothed_sequence_cross_entropy", "np.sum(np.where(counted, per_position, 0))", "np.sum(per_position)",
        "test-smoothed_sequence_cross_entropy"),
    "temperature derivative divided by T instead of T squared": (
        "temperature_nll", "/ T**2", "/ T", "test-temperature_nll"),
    "temperature derivative without the true class's logit": (
        "temperature_nll", "gaps = logits - logits[rows, labels][:, None]", "gaps = logits", "test-temperature_nll"),
    "temperature derivative with the wrong sign": (
        "temperature_nll", "dnll_dT = -np.mean(", "dnll_dT = np.mean(", "test-temperature_nll"),
    "temperature derivative by a central difference quotient of the NLL": (
        "temperature_nll", "dnll_dT = -np.mean(np.sum(np.exp(log_probs) * gaps, axis=1)) / T**2",
        "def nll_at(t):\n"
        "        z = np.asarray(logits, dtype=np.float64) / t  # float64, or float32 round-off swamps the quotient\n"
        "        scaled = z - z.max(axis=1, keepdims=True)\n"
        "        return -np.mean((scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True)))[rows, labels])\n"
        "    dnll_dT = (nll_at(T * (1 + 1e-5)) - nll_at(T * (1 - 1e-5))) / (2e-5 * T)",
        "test-temperature_nll"),
    "temperature fit stops after a few bisection steps": (
        "fit_temperature", "for _ in range(100):", "for _ in range(12):", "test-fit_temperature"),
    "temperature fit returns 1 / T": (
        "fit_temperature", "return float(1 / math.exp((low + high) / 2))", "return float(math.exp((low + high) / 2))",
        "test-fit_temperature"),
    "temperature fit without the no-minimum check": (
        "fit_temperature", "if slope(math.exp(low)) >= 0 or slope(math.exp(high)) <= 0:", "if False:",
        "test-fit_temperature"),
    "temperature fit bisects towards the wrong end": (
        "fit_temperature", "if slope(math.exp(middle)) > 0:", "if slope(math.exp(middle)) < 0:", "test-fit_temperature"),
}
