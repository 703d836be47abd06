"""Adversarial and broken submissions of exercise 03, each with the outcome the grader must give.

Same format as ``01_softmax_ce_kl.py`` (helpers from ``_notebooks.py``). Task points: unit_norms 15,
adaptive_clip_grads_ 30, leaky_jacobian_norms 25, leaky_rnn_backward 30. Task 2's hidden tests run
with a reference unit_norms, so a unit_norms that is wrong where task 2's visible test cannot see it
(per row instead of per column: the visible test's matrices are diagonal) costs 15 points only.
Task 2 changes the gradients of a LIST OF (weight, grad) TUPLES IN PLACE: the grader must give the
test's own arrays exactly what the student's function did to them, no more (rebinding ``pairs[i]``
to a new tuple leaves the caller's arrays as they were) and no less (a change made before raising
is kept).
"""
NAME = "03_gradient_flow.ipynb"


def files(nb):
    return notebook_files(nb, NAME)  # noqa: F821 (from _notebooks.py)


def redefine(grade_id, code):
    """The solution, with the answer cell's function redefined by ``code`` (``_solved`` is the right one)."""
    name = grade_id
    return lambda r, s: files(append(solved(r, s), grade_id, f"_solved = {name}\n{code}"))  # noqa: F821


SUBMISSIONS = {
    # Baselines.
    "solution": (lambda r, s: files(solved(r, s)), {"status": "graded", "score": 100, "flag": None}),  # noqa: F821
    "untouched": (lambda r, s: files(r), {"status": "graded", "score": 0, "flag": None}),
    "partial": (lambda r, s: files(solved(r, s, {"unit_norms"})), {"status": "graded", "score": 15, "flag": None}),  # noqa: F821
    # In-place clipping of a list of (weight, grad) tuples (task 2).
    "clip-rebinds-list-items": (redefine("adaptive_clip_grads_", '''
def adaptive_clip_grads_(pairs, clip_factor=0.01, eps=1e-3):
    copies = [(W.copy(), G.copy()) for W, G in pairs]
    count = _solved(copies, clip_factor, eps)
    for i, (W, G) in enumerate(copies):
        pairs[i] = (pairs[i][0], G)  # a new tuple holding a new array: the caller's gradient is unchanged
    return count
'''), {"status": "graded", "score": 70, "flag": None}),
    "clip-scales-then-raises": (redefine("adaptive_clip_grads_", '''
def adaptive_clip_grads_(pairs, clip_factor=0.01, eps=1e-3):
    if not all(np.isfinite(G).all() for _, G in pairs):
        pairs[0][1][...] = 0  # changed before the error below: the caller must see it
    return _solved(pairs, clip_factor, eps)
'''), {"status": "graded", "score": 70, "flag": None}),
    "clip-not-in-place": (redefine("adaptive_clip_grads_", '''
def adaptive_clip_grads_(pairs, clip_factor=0.01, eps=1e-3):
    copies = [(W, G.copy()) for W, G in pairs]
    return _solved(copies, clip_factor, eps)  # clips copies: the given gradients stay as they were
'''), {"status": "graded", "score": 70, "flag": None}),
    "clip-returns-a-tensor": (redefine("adaptive_clip_grads_", '''
def adaptive_clip_grads_(pairs, clip_factor=0.01, eps=1e-3):
    import torch
    return torch.tensor(_solved(pairs, clip_factor, eps))
'''), {"status": "graded", "score": 70, "flag": "reference-import"}),
    # unit_norms (task 1), and the reference that task 2 substitutes for it inside the sandbox.
    "unit-norms-overflow-float32": (redefine("unit_norms", '''
def unit_norms(W):
    W = np.asarray(W)
    return np.sqrt(np.sum(W * W)).astype(np.float64) if W.ndim <= 1 else \\
        np.sqrt(np.sum(W * W, axis=0, keepdims=True)).astype(np.float64)
'''), {"status": "graded", "score": 85, "flag": None}),
    "broken-unit-norms-patches-substitute": (redefine("unit_norms", '''
import seqlab.checks
seqlab.checks.substitute = lambda *a, **k: __import__("contextlib").nullcontext()
def unit_norms(W):
    W = np.asarray(W, dtype=np.float64)
    return np.sqrt(np.sum(W**2)) if W.ndim <= 1 else np.sqrt(np.sum(W**2, axis=1, keepdims=True))  # rows
'''), {"status": "graded", "score": 85, "flag": "monkeypatch"}),
    # leaky_jacobian_norms (task 3).
    "jacobian-memory-bomb": (redefine("leaky_jacobian_norms", '''
def leaky_jacobian_norms(Wx, Wh, b, xs, h0, alpha, nonlinearity="tanh"):
    waste = np.ones((10**6, 10**6))
    return _solved(Wx, Wh, b, xs, h0, alpha, nonlinearity)
'''), {"status": "graded", "score": 75, "flag": None}),
    "jacobian-loops-forever-for-relu": (redefine("leaky_jacobian_norms", '''
def leaky_jacobian_norms(Wx, Wh, b, xs, h0, alpha, nonlinearity="tanh"):
    while nonlinearity == "relu":
        pass
    return _solved(Wx, Wh, b, xs, h0, alpha, nonlinearity)
'''), {"status": "graded", "score": 75, "flag": "timeout"}),
}
