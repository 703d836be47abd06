"""Plausible student bugs in exercise 03"""
# Plausible student bugs, each written into the solution: (answer cell, code replaced, replacement,
# the test cell that must catch it).
MUTANTS = {
    # Task 1: unit_norms.
    "unit norms per row (PyTorch's layout) instead of per column": (
        "unit_norms", "axis=0, keepdims=True", "axis=1, keepdims=True", "test-unit_norms"),
    "unit norms accumulated in the weights' dtype": (
        "unit_norms", "np.sum(np.square(W, dtype=np.float64), axis=0", "np.sum(np.square(W), axis=0",
        "test-unit_norms"),
    "a bias's entries taken as separate units": (
        "unit_norms", "        return np.sqrt(np.sum(np.square(W, dtype=np.float64)))\n",
        "        return np.abs(W).astype(np.float64)\n", "test-unit_norms"),
    # Task 2: adaptive_clip_grads_.
    "no eps floor: a zero weight allows no gradient at all": (
        "adaptive_clip_grads_", "clip_factor * np.maximum(unit_norms(W), eps)", "clip_factor * unit_norms(W)",
        "test-adaptive_clip_grads_"),
    "clipping rebinds a new array instead of writing in place": (
        "adaptive_clip_grads_", "G *= np.where(", "G = G * np.where(", "test-adaptive_clip_grads_"),
    "a clipped unit's gradient multiplied by clip_factor instead of scaled to its limit": (
        "adaptive_clip_grads_", "limits / np.where(over, grad_norms, 1.0)", "clip_factor", "test-adaptive_clip_grads_"),
    "counts the clipped parameters, not the clipped units": (
        "adaptive_clip_grads_", "clipped += int(np.count_nonzero(over))", "clipped += int(np.any(over))",
        "test-adaptive_clip_grads_"),
    "each pair checked just before it is clipped: an error leaves earlier pairs clipped": (
        "adaptive_clip_grads_", "        plans.append((G, grad_norms, limits))\n",
        "        over = grad_norms > limits\n        G *= np.where(over, limits / np.where(over, grad_norms, 1.0), 1.0)\n"
        "        plans.append((G.copy(), grad_norms, limits))  # clipped here; the loop below only counts\n",
        "test-adaptive_clip_grads_"),
    # Task 3: leaky_jacobian_norms.
    "leaky Jacobian without the kept part (1 - alpha) I": (
        "leaky_jacobian_norms", "one_step = (1 - alpha) * np.eye(H) + alpha *", "one_step = alpha *",
        "test-leaky_jacobian_norms"),
    "tanh slope read from the leaky state, 1 - h_t^2 (the chapter's shortcut)": (
        "leaky_jacobian_norms", "slopes = 1 - np.tanh(As) ** 2 if", "slopes = 1 - hs**2 if", "test-leaky_jacobian_norms"),
    "ReLU slope read from the leaky state, h_t > 0": (
        "leaky_jacobian_norms", "else (As > 0).astype(np.float64)", "else (hs > 0).astype(np.float64)",
        "test-leaky_jacobian_norms"),
    "Jacobian with Wh instead of its transpose": (
        "leaky_jacobian_norms", "WhT = np.asarray(Wh, dtype=np.float64).T", "WhT = np.asarray(Wh, dtype=np.float64)",
        "test-leaky_jacobian_norms"),
    "Jacobian estimated by central differences on h0 instead of derived": (
        "leaky_jacobian_norms", "    hs, As = leaky_rnn_forward(Wx, Wh, b, xs, h0, alpha, nonlinearity)\n",
        "    h0 = np.asarray(h0, dtype=np.float64)\n"
        "    estimate = np.empty((h0.shape[0], np.shape(xs)[1], h0.shape[1], h0.shape[1]))\n"
        "    for j in range(h0.shape[1]):\n"
        "        step = np.zeros(h0.shape[1])\n"
        "        step[j] = 1e-5\n"
        "        plus = leaky_rnn_forward(Wx, Wh, b, xs, h0 + step, alpha, nonlinearity)[0]\n"
        "        minus = leaky_rnn_forward(Wx, Wh, b, xs, h0 - step, alpha, nonlinearity)[0]\n"
        "        estimate[..., j] = (plus - minus) / 2e-5\n"
        "    return np.linalg.norm(estimate, ord=2, axis=(2, 3))\n",
        "test-leaky_jacobian_norms"),
    # Task 4: leaky_rnn_backward.
    "gradient to h_{t-1} without the kept part (1 - alpha) dh": (
        "leaky_rnn_backward", "dh_later = (1 - alpha) * dh + da @ Wh.T", "dh_later = da @ Wh.T",
        "test-leaky_rnn_backward"),
    "dWh from h_t instead of h_{t-1}": (
        "leaky_rnn_backward", "dWh += previous[:, t].T @ da", "dWh += hs[:, t].T @ da", "test-leaky_rnn_backward"),
    "tanh slope read from the leaky state, 1 - h_t^2": (
        "leaky_rnn_backward", "slopes = 1 - np.tanh(As) ** 2 if", "slopes = 1 - hs**2 if", "test-leaky_rnn_backward"),
    "only the loss at the last step sent back": (
        "leaky_rnn_backward", "dh = dhs[:, t] + dh_later", "dh = (dhs[:, t] if t == T - 1 else 0) + dh_later",
        "test-leaky_rnn_backward"),
    "gradients estimated by central differences (numerical_gradient) instead of backpropagated": (
        "leaky_rnn_backward", "    hs, As = leaky_rnn_forward(Wx, Wh, b, xs, h0, alpha, nonlinearity)\n",
        "    inputs = [np.array(a, dtype=np.float64) for a in (xs, h0, Wx, Wh, b)]\n"
        "    loss = lambda: float(np.sum(leaky_rnn_forward(*inputs[2:], *inputs[:2], alpha, nonlinearity)[0] * dhs))\n"
        "    return tuple(numerical_gradient(loss, a, eps=1e-5) for a in inputs)\n",
        "test-leaky_rnn_backward"),
}
