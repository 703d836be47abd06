"""Plausible student bugs in exercise 07"""
# Plausible student bugs, each written into the solution: (answer cell, code replaced, replacement,
# the test cell that must catch it).
MUTANTS = {
    "peeky output layer reads the LSTM output twice instead of the encoder's h": (
        "peeky_decoder_forward", "np.concatenate([h_t, h_enc], axis=1) @ W_out", "np.concatenate([h_t, h_t], axis=1) @ W_out",
        "test-peeky_decoder_forward"),
    "peeky decoder starts from a zero state": (
        "peeky_decoder_forward", "h_t, c_t = h_enc, np.zeros_like(h_enc)", "h_t, c_t = np.zeros_like(h_enc), np.zeros_like(h_enc)",
        "test-peeky_decoder_forward"),
    "peeky LSTM input in the order [h_enc, embedding]": (
        "peeky_decoder_forward", "np.concatenate([E[ts[:, t]], h_enc], axis=1)", "np.concatenate([h_enc, E[ts[:, t]]], axis=1)",
        "test-peeky_decoder_forward"),
    "padding on the left": (
        "pad_and_reverse", "ids[row, :len(tokens)] = tokens", "ids[row, T_max - len(tokens):] = tokens", "test-pad_and_reverse"),
    "reverse the padded row, padding included": (
        "pad_and_reverse", "    return ids, lengths", "    return (ids[:, ::-1] if reverse else ids), lengths",
        "test-pad_and_reverse"),
    "greedy answer keeps the end token": (
        "greedy_decode", "                finished[n] = True\n", "                finished[n] = True\n                answers[n].append(int(last[n]))\n",
        "test-greedy_decode"),
    "greedy decoding feeds the start token at every step": (
        "greedy_decode", "h_t, c_t = lstm_step(E[last], h_t, c_t, Wx, Wh, b)",
        "h_t, c_t = lstm_step(E[np.full(N, start_id)], h_t, c_t, Wx, Wh, b)", "test-greedy_decode"),
    "greedy decoding keeps writing after the end token": (
        "greedy_decode", "        for n in np.flatnonzero(~finished):", "        for n in range(N):", "test-greedy_decode"),
}
