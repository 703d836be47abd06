"""Plausible student bugs in exercise 07"""
# Plausible student bugs, each written into the solution: (answer cell, code replaced, replacement,
# the test cell that must catch it).
MUTANTS = {
    "reverse_padded reverses the whole padded row, as the chapter did": (
        "reverse_padded", "np.where(t < L, L - 1 - t, t)", "np.where(t < L, T - 1 - t, t)", "test-reverse_padded"),
    "reverse_padded is off by one within each sequence": (
        "reverse_padded", "np.where(t < L, L - 1 - t, t)", "np.where(t < L, (L - t) % T, t)", "test-reverse_padded"),
    "reverse_padded moves the padding to the front": (
        "reverse_padded", "np.where(t < L, L - 1 - t, t)", "np.where(t < T - L, t + L, T - 1 - t)", "test-reverse_padded"),
    "scheduled sampling reads the mask one step late": (
        "scheduled_sampling_forward", "np.where(use_truth[:, t], ids[:, t], predicted)",
        "np.where(use_truth[:, t - 1], ids[:, t], predicted)", "test-scheduled_sampling_forward"),
    "scheduled sampling feeds the previous true token instead of the prediction": (
        "scheduled_sampling_forward", "np.where(use_truth[:, t], ids[:, t], predicted)",
        "np.where(use_truth[:, t], ids[:, t], ids[:, t - 1])", "test-scheduled_sampling_forward"),
    "scheduled sampling predicts from a teacher-forced run, not from the inputs it was fed": (
        "scheduled_sampling_forward", "predicted = np.argmax(scores[-1], axis=1)",
        "predicted = np.argmax(peeky_rnn_forward(ids, context, params)[0][:, t - 1], axis=1)",
        "test-scheduled_sampling_forward"),
    "scheduled sampling starts from a zero state instead of the bridge": (
        "scheduled_sampling_forward", "h = peeky_rnn_first_state(context, params)",
        "h = np.zeros((N, params['Wh'].shape[0]))", "test-scheduled_sampling_forward"),
    "dE by fancy-index assignment loses repeated tokens": (
        "peeky_rnn_backward", "np.add.at(grads[\"E\"], ids[:, t - 1], dx[:, :D])",
        "grads[\"E\"][ids[:, t - 1]] += dx[:, :D]", "test-peeky_rnn_backward"),
    "dWh multiplies by the new state instead of the previous one": (
        "peeky_rnn_backward", "grads[\"Wh\"] += h_prev.T @ da", "grads[\"Wh\"] += h.T @ da", "test-peeky_rnn_backward"),
    "the bridge's tanh derivative is forgotten": (
        "peeky_rnn_backward", "da_bridge = dh_later * (1 - hs[:, 0] ** 2)", "da_bridge = dh_later",
        "test-peeky_rnn_backward"),
    "the context's gradient misses the bridge path": (
        "peeky_rnn_backward", "    dcontext += da_bridge @ params[\"W_bridge\"].T\n", "", "test-peeky_rnn_backward"),
    "the context's gradient misses the output layer's peek": (
        "peeky_rnn_backward", "        dcontext += d_output_input[:, H:]  # the peek into the output layer\n", "",
        "test-peeky_rnn_backward"),
}
