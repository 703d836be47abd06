"""Plausible student bugs in exercise 03"""
# Plausible student bugs, each written into the solution: (answer cell, code replaced, replacement,
# the test cell that must catch it).
MUTANTS = {
    "global norm accumulated in float32": (
        "global_norm", "np.square(g, dtype=np.float64)", "np.square(g)", "test-global_norm"),
    "global norm as the sum of the per-array norms": (
        "global_norm", "return math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads))",
        "return sum(math.sqrt(float(np.sum(np.square(g, dtype=np.float64)))) for g in grads)", "test-global_norm"),
    "clipping rebinds a new array instead of writing in place": (
        "clip_grads_by_global_norm_", "g *= scale", "g = g * scale", "test-clip_grads_by_global_norm_"),
    "clipping scales before checking for inf and NaN": (
        "clip_grads_by_global_norm_",
        "    if not math.isfinite(total):\n        raise FloatingPointError(",
        "    if total > max_norm:\n        for g in grads:\n            g *= max_norm / (total + 1e-6)\n"
        "    if not math.isfinite(total):\n        raise FloatingPointError(",
        "test-clip_grads_by_global_norm_"),
    "clipping returns the norm after clipping": (
        "clip_grads_by_global_norm_", "    return float(total)", "    return float(global_norm(grads))",
        "test-clip_grads_by_global_norm_"),
    "clip by value only on the positive side": (
        "clip_grads_by_value_", "np.clip(g, -clip_value, clip_value, out=g)", "np.minimum(g, clip_value, out=g)",
        "test-clip_grads_by_value_"),
    "Jacobian with Wh instead of its transpose": (
        "jacobian_norms", "product = (slope[:, :, None] * Wh.T) @ product", "product = (slope[:, :, None] * Wh) @ product",
        "test-jacobian_norms"),
    "Jacobian norm in the Frobenius norm": (
        "jacobian_norms", "np.linalg.norm(product, ord=2, axis=(1, 2))", "np.linalg.norm(product, axis=(1, 2))",
        "test-jacobian_norms"),
}
