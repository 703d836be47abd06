"""Plausible student bugs in exercise 06"""
# Plausible student bugs, each written into the solution: (answer cell, code replaced, replacement,
# the test cell that must catch it).
MUTANTS = {
    "nucleus taken before the temperature (temperature applied to the kept tokens afterwards)": (
        "nucleus_distribution",
        """    scores = np.asarray(logits, dtype=np.float64) / temperature  # (B, V): the temperature comes first
    probs = np.exp(scores - scores.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    if top_p == 1:  # every token, even one whose mass above rounds to 1
        return probs
    descending = -np.sort(-probs, axis=-1)  # (B, V)
    mass_above = np.concatenate([np.zeros_like(descending[:, :1]), np.cumsum(descending, axis=-1)[:, :-1]], axis=-1)
    n_kept = (mass_above < top_p).sum(axis=-1, keepdims=True)  # in sorted order the nucleus is a prefix
    smallest_kept = np.take_along_axis(descending, n_kept - 1, axis=-1)  # (B, 1)
    kept = np.where(probs >= smallest_kept, probs, 0.0)  # the ties of the smallest kept token come with it
    return kept / kept.sum(axis=-1, keepdims=True)""",
        """    scores = np.asarray(logits, dtype=np.float64)  # (B, V): the nucleus of the model itself
    probs = np.exp(scores - scores.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    tempered = np.exp((scores - scores.max(axis=-1, keepdims=True)) / temperature)
    tempered /= tempered.sum(axis=-1, keepdims=True)
    if top_p == 1:
        return tempered
    descending = -np.sort(-probs, axis=-1)  # (B, V)
    mass_above = np.concatenate([np.zeros_like(descending[:, :1]), np.cumsum(descending, axis=-1)[:, :-1]], axis=-1)
    n_kept = (mass_above < top_p).sum(axis=-1, keepdims=True)  # in sorted order the nucleus is a prefix
    smallest_kept = np.take_along_axis(descending, n_kept - 1, axis=-1)  # (B, 1)
    kept = np.where(probs >= smallest_kept, tempered, 0.0)  # the ties of the smallest kept token come with it
    return kept / kept.sum(axis=-1, keepdims=True)""",
        "test-nucleus_distribution"),
    "nucleus stops before the token that crosses top_p (keeps while the running total <= top_p)": (
        "nucleus_distribution", "n_kept = (mass_above < top_p).sum(axis=-1, keepdims=True)",
        "n_kept = np.maximum((np.cumsum(descending, axis=-1) <= top_p).sum(axis=-1, keepdims=True), 1)",
        "test-nucleus_distribution"),
    "nucleus cut in sort order: of tied tokens, only those sorted first are kept": (
        "nucleus_distribution", "kept = np.where(probs >= smallest_kept, probs, 0.0)",
        'kept = np.where(np.argsort(np.argsort(-probs, axis=-1, kind="stable"), axis=-1) < n_kept, probs, 0.0)',
        "test-nucleus_distribution"),
    "nucleus not renormalized": (
        "nucleus_distribution", "return kept / kept.sum(axis=-1, keepdims=True)", "return kept",
        "test-nucleus_distribution"),
    "one Gumbel noise vector shared by every row": (
        "gumbel_top_k_sample", "np.random.default_rng(seed).gumbel(size=(B, V))", "np.random.default_rng(seed).gumbel(size=V)",
        "test-gumbel_top_k_sample"),
    "Gumbel noise divided by the temperature too (argmax of (z + g) / tau samples at tau = 1)": (
        "gumbel_top_k_sample", "np.random.default_rng(seed).gumbel(size=(B, V))",
        "np.random.default_rng(seed).gumbel(size=(B, V)) / temperature", "test-gumbel_top_k_sample"),
    "Gumbel noise added to the probabilities instead of the log-probabilities": (
        "gumbel_top_k_sample", "perturbed = scores + np.random",
        "perturbed = np.exp(scores - scores.max(axis=-1, keepdims=True)) + np.random", "test-gumbel_top_k_sample"),
    "Gumbel noise added to the log of probabilities computed in linear space (a token whose q underflows is never drawn)": (
        "gumbel_top_k_sample", "perturbed = scores + np.random",
        "perturbed = np.log(np.exp(scores - scores.max(axis=-1, keepdims=True))) + np.random", "test-gumbel_top_k_sample"),
    "k independent Gumbel-max draws (with replacement)": (
        "gumbel_top_k_sample", 'return np.argsort(-perturbed, axis=-1, kind="stable")[:, :k]',
        "return np.stack([np.argmax(scores + np.random.default_rng(seed + i).gumbel(size=(B, V)), axis=-1) for i in range(k)], axis=1)",
        "test-gumbel_top_k_sample"),
    "dlogits is the gradient with respect to logits / temperature (the 1/temperature forgotten)": (
        "tempered_entropy_grads", "dlogits = dscores / temperature", "dlogits = dscores", "test-tempered_entropy_grads"),
    "dtemperature misses a factor 1/temperature": (
        "tempered_entropy_grads",
        "dtemperature = -(dscores * np.where(probs > 0, scores, 0.0)).sum(axis=-1) / temperature",
        "dtemperature = -(dscores * np.where(probs > 0, scores, 0.0)).sum(axis=-1)", "test-tempered_entropy_grads"),
    "0 log 0 not handled: a masked token makes the entropy NaN": (
        "tempered_entropy_grads", "surprise = np.where(probs > 0, -log_probs, 0.0)", "surprise = -log_probs",
        "test-tempered_entropy_grads"),
    "length penalty applied only when reranking the final beam": (
        "length_penalized_beam_search",
        """        candidates.sort(key=lambda c: (-penalized(c[1], len(c[0])), c[3], c[4]))
        beam = [(tokens, log_prob, state) for tokens, log_prob, state, _, _ in candidates[:beam_width]]
    return [(tokens, log_prob) for tokens, log_prob, _ in beam]""",
        """        candidates.sort(key=lambda c: (-c[1], c[3], c[4]))
        beam = [(tokens, log_prob, state) for tokens, log_prob, state, _, _ in candidates[:beam_width]]
    return sorted([(tokens, log_prob) for tokens, log_prob, _ in beam], key=lambda h: -penalized(h[1], len(h[0])))""",
        "test-length_penalized_beam_search"),
    "length penalty counts the tokens without the end token": (
        "length_penalized_beam_search", "-penalized(c[1], len(c[0]))", "-penalized(c[1], len(c[0]) - (c[0][-1] == end_id))",
        "test-length_penalized_beam_search"),
    "beam search extends finished hypotheses past the end token": (
        "length_penalized_beam_search", "if tokens and tokens[-1] == end_id:  # finished", "if False:  # finished",
        "test-length_penalized_beam_search"),
    "beam search moves every hypothesis from the start state (the state is not carried)": (
        "length_penalized_beam_search", "candidates.append((tokens + [v], extended, int(next_state[state, v]), k, v))",
        "candidates.append((tokens + [v], extended, int(start_state), k, v))", "test-length_penalized_beam_search"),
}
