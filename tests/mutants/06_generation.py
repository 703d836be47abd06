"""Plausible student bugs in exercise 06"""
# Plausible student bugs, each written into the solution: (answer cell, code replaced, replacement,
# the test cell that must catch it).
MUTANTS = {
    "top-k drops the scores tied with the k-th (keeps fewer than k)": (
        "tempered_top_k_log_probs", "scores = np.where(scores >= kth_largest, scores, -np.inf)",
        "scores = np.where(scores > kth_largest, scores, -np.inf)", "test-tempered_top_k_log_probs"),
    "log-softmax without the max shift (overflows at logits of 1000)": (
        "tempered_top_k_log_probs", "shifted = scores - scores.max(axis=-1, keepdims=True)", "shifted = scores",
        "test-tempered_top_k_log_probs"),
    "Gumbel noise added before dividing by the temperature": (
        "gumbel_max_sample", "return np.argmax(scores + noise, axis=-1)",
        "return np.argmax(scores + noise / temperature, axis=-1)", "test-gumbel_max_sample"),
    "Gumbel-max with uniform noise instead of Gumbel noise": (
        "gumbel_max_sample", "noise = np.random.default_rng(seed).gumbel(size=(B, V))",
        "noise = np.random.default_rng(seed).random(size=(B, V))", "test-gumbel_max_sample"),
    "beam search moves every hypothesis from the start state (the state is not carried)": (
        "beam_search_automaton", "candidates.append((new_score, k, v, tokens + [v], int(next_state[state, v])))",
        "candidates.append((new_score, k, v, tokens + [v], int(start_state)))", "test-beam_search_automaton"),
    "beam search extends finished hypotheses past the end token": (
        "beam_search_automaton", "if tokens and tokens[-1] == end_id:  # finished",
        "if False:  # finished", "test-beam_search_automaton"),
    "length penalty multiplied instead of raised to alpha": (
        "rerank_by_length", "return log_prob / ((5 + len(tokens)) / 6) ** alpha",
        "return log_prob / ((5 + len(tokens)) / 6) * alpha", "test-rerank_by_length"),
    "reranked lowest score first": (
        "rerank_by_length", "return sorted(hypotheses, key=score, reverse=True)",
        "return sorted(hypotheses, key=score)", "test-rerank_by_length"),
}
