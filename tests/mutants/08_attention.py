"""Plausible student bugs in exercise 08"""
# Plausible student bugs, each written into the solution: (answer cell, code replaced, replacement,
# the test cell that must catch it).
MUTANTS = {
    "key/value heads tiled (query head i reads head i % hkv) instead of repeated": (
        "grouped_query_attention", "k_rep, v_rep = (np.repeat(x, group, axis=1) for x in (k, v))",
        "k_rep, v_rep = (np.tile(x, (1, group, 1, 1)) for x in (k, v))", "test-grouped_query_attention"),
    "gradient of a shared key/value head averaged over its group instead of summed": (
        "grouped_query_attention", "fold = lambda x: x.reshape(N, hkv, group, *x.shape[2:]).sum(axis=2)",
        "fold = lambda x: x.reshape(N, hkv, group, *x.shape[2:]).mean(axis=2)", "test-grouped_query_attention"),
    "gradient of a shared key/value head taken from the first query head of its group only": (
        "grouped_query_attention", "fold = lambda x: x.reshape(N, hkv, group, *x.shape[2:]).sum(axis=2)",
        "fold = lambda x: x.reshape(N, hkv, group, *x.shape[2:])[:, :, 0]", "test-grouped_query_attention"),
    "gradient of the shared key/value heads folded as (group, hkv) instead of (hkv, group)": (
        "grouped_query_attention", "fold = lambda x: x.reshape(N, hkv, group, *x.shape[2:]).sum(axis=2)",
        "fold = lambda x: x.reshape(N, group, hkv, *x.shape[2:]).sum(axis=1)", "test-grouped_query_attention"),
    "grouped-query dq without the 1/sqrt(d) scale": (
        "grouped_query_attention", "dq = dscores @ k_rep * scale", "dq = dscores @ k_rep", "test-grouped_query_attention"),
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
    "relative distance i - j instead of j - i": (
        "relative_bias_attention", "distance = np.arange(Tk)[None, :] - np.arange(Tq)[:, None]",
        "distance = np.arange(Tq)[:, None] - np.arange(Tk)[None, :]", "test-relative_bias_attention"),
    "relative distances not clipped to +-K": (
        "relative_bias_attention", "return np.clip(distance, -max_distance, max_distance) + max_distance",
        "return distance + max_distance", "test-relative_bias_attention"),
    "relative bias scaled by 1/sqrt(d) together with q . k": (
        "relative_bias_attention", "scores = q @ k.swapaxes(-1, -2) * q.shape[-1] ** -0.5 + bias_table[:, index]",
        "scores = (q @ k.swapaxes(-1, -2) + bias_table[:, index]) * q.shape[-1] ** -0.5", "test-relative_bias_attention"),
    "bias-table gradient by fancy-index += (a column used by several pairs counted once)": (
        "relative_bias_attention", "np.add.at(dbias_table, (slice(None), index), dscores.sum(axis=0))",
        "dbias_table[:, index] += dscores.sum(axis=0)", "test-relative_bias_attention"),
    "bias-table gradient from the first sequence of the batch only": (
        "relative_bias_attention", "np.add.at(dbias_table, (slice(None), index), dscores.sum(axis=0))",
        "np.add.at(dbias_table, (slice(None), index), dscores[0])", "test-relative_bias_attention"),
    "backward recomputes the weights without the mask": (
        "relative_bias_attention", "_, weights = relative_bias_attention(q, k, v, bias_table, mask)",
        "_, weights = relative_bias_attention(q, k, v, bias_table, np.ones_like(mask))", "test-relative_bias_attention"),
    "fully masked row left to 0/0 = NaN": (
        "relative_bias_attention", "weights = weights / np.where(total > 0, total, 1)", "weights = weights / total",
        "test-relative_bias_attention"),
    "mask sign flipped (True = ignore, nn.MultiheadAttention's convention)": (
        "relative_bias_attention", "scores = np.where(mask[:, None], scores, -np.inf)",
        "scores = np.where(~mask[:, None], scores, -np.inf)", "test-relative_bias_attention"),
}
