"""Plausible student bugs in exercise 02"""
# Plausible student bugs, each written into the solution: (answer cell, code replaced, replacement,
# the test cell that must catch it).
MUTANTS = {
    "stationary distribution from the right eigenvector (uniform) instead of the left": (
        "markov_model_perplexity", "np.linalg.eig(P.T)", "np.linalg.eig(P)", "test-markov_model_perplexity"),
    "rows weighted by the model's long-run frequencies instead of the source's": (
        "markov_model_perplexity", "np.linalg.eig(P.T)", "np.linalg.eig(Q.T)", "test-markov_model_perplexity"),
    "0 log 0 computed as NaN": (
        "markov_model_perplexity", "np.log(np.where(happens, Q, 1.0))", "np.log(Q)", "test-markov_model_perplexity"),
    "stationary distribution by repeated multiplication, which never settles on a periodic chain": (
        "markov_model_perplexity",
        "pi = np.real(eigenvectors[:, np.argmin(np.abs(eigenvalues - 1))])",
        "pi = np.linalg.matrix_power(P.T, 1000) @ np.full(len(P), 1 / len(P))",
        "test-markov_model_perplexity"),
    "padded step drops the gradient it should pass back to h_{t-1}": (
        "masked_rnn_backward", "dh = da @ Wh.T + (1 - m) * g", "dh = da @ Wh.T", "test-masked_rnn_backward"),
    "padded steps not masked: they send gradient through tanh into x_t and the weights": (
        "masked_rnn_backward", "da = m * g * (1 - hs[:, t] ** 2)", "da = g * (1 - hs[:, t] ** 2)",
        "test-masked_rnn_backward"),
    "dhs at padded positions ignored": (
        "masked_rnn_backward", "g = dhs[:, t] + dh", "g = m * dhs[:, t] + dh", "test-masked_rnn_backward"),
    "dhs changed in place: the caller's gradient is overwritten": (
        "masked_rnn_backward", "g = dhs[:, t] + dh", "g = dhs[:, t]\n        g += dh", "test-masked_rnn_backward"),
    "step 0 reads hs[:, -1] (the last state) instead of h0": (
        "masked_rnn_backward", "h_prev = hs[:, t - 1] if t > 0 else h0", "h_prev = hs[:, t - 1]",
        "test-masked_rnn_backward"),
    "the reverse direction's gradients computed with the forward direction's weights": (
        "masked_birnn_backward", "h0[1],\n                                                *reverse_weights[:2])",
        "h0[1],\n                                                *forward_weights[:2])", "test-masked_birnn_backward"),
    "the reverse direction backpropagated as if it had read t = 0 first": (
        "masked_birnn_backward", "reverse_order = list(range(T)), list(range(T - 1, -1, -1))",
        "reverse_order = list(range(T)), list(range(T))", "test-masked_birnn_backward"),
    "dxs of the reverse direction dropped": (
        "masked_birnn_backward", "return dxs_f + dxs_r,", "return dxs_f,", "test-masked_birnn_backward"),
    "douts changed in place through a view of one direction's half": (
        "masked_birnn_backward", "g = dstates[:, t] + dstate", "g = dstates[:, t]\n            g += dstate",
        "test-masked_birnn_backward"),
    "dh0 of the two directions in the wrong order": (
        "masked_birnn_backward", "np.stack([dh0_f, dh0_r])", "np.stack([dh0_r, dh0_f])", "test-masked_birnn_backward"),
}
