"""Plausible student bugs in exercise 08"""
# Plausible student bugs, each written into the solution: (answer cell, code replaced, replacement,
# the test cell that must catch it).
MUTANTS = {
    "dhs forgets the path through the scores": (
        "additive_attention", "dhs = a[:, :, None] * dc[:, None, :] + dpre @ W.T",
        "dhs = a[:, :, None] * dc[:, None, :]", "test-additive_attention"),
    "dU without summing the broadcast s U over T (only the last step)": (
        "additive_attention", "dpre_s = dpre.sum(axis=1)", "dpre_s = dpre[:, -1]", "test-additive_attention"),
    "tanh' written as 1 - e": (
        "additive_attention", "dpre = dscores[:, :, None] * v * (1 - e**2)", "dpre = dscores[:, :, None] * v * (1 - e)",
        "test-additive_attention"),
    "softmax over the batch axis": (
        "additive_attention", "a /= a.sum(axis=1, keepdims=True)\n    c =", "a /= a.sum(axis=0, keepdims=True)\n    c =",
        "test-additive_attention"),
    "no 1/sqrt(d) scaling": (
        "masked_attention", "scores = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])",
        "scores = q @ k.transpose(0, 2, 1)", "test-masked_attention"),
    "fully masked row left to 0/0 = NaN": (
        "masked_attention", "weights = weights / np.where(total > 0, total, 1)", "weights = weights / total",
        "test-masked_attention"),
    "mask sign flipped (True = ignore, nn.MultiheadAttention's convention)": (
        "masked_attention", "scores = np.where(mask, scores, -np.inf)", "scores = np.where(~mask, scores, -np.inf)",
        "test-masked_attention"),
    "dk without the scale": (
        "masked_attention", "dk = dscores.transpose(0, 2, 1) @ q * scale", "dk = dscores.transpose(0, 2, 1) @ q",
        "test-masked_attention"),
    "softmax backward without the row sum": (
        "masked_attention", "dscores = weights * (dweights - np.sum(dweights * weights, axis=-1, keepdims=True))",
        "dscores = weights * dweights", "test-masked_attention"),
    "split_heads reshapes to (N, h, T, d) directly, mixing positions and heads": (
        "multi_head", "return x.reshape(N, T, num_heads, D // num_heads).transpose(0, 2, 1, 3)",
        "return x.reshape(N, num_heads, T, D // num_heads)", "test-multi_head"),
    "in_proj_weight used without the transpose": (
        "multi_head", "qkv = x @ in_proj_weight.T + in_proj_bias", "qkv = x @ in_proj_weight.reshape(D, 3 * D) + in_proj_bias",
        "test-multi_head"),
    "out_proj forgotten": (
        "multi_head", "return merged @ out_proj_weight.T + out_proj_bias", "return merged",
        "test-multi_head"),
}
