"""Adversarial and broken submissions of exercise 03, each with the outcome the grader must give.

Same format as ``01_softmax_ce_kl.py`` (helpers from ``_notebooks.py``). Task points: global_norm 15,
clip_grads_by_global_norm_ 35, clip_grads_by_value_ 15, jacobian_norms 35. Task 2 runs with the
reference global_norm, so a broken global_norm costs 15 points only. Tasks 2 and 3 change a LIST OF
ARRAYS IN PLACE: the grader must give the test's own arrays exactly what the student's function did
to them, no more (rebinding ``grads[i]`` to a new array leaves the caller's array as it was) and
no less (a change made before raising is kept).
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
    # In-place clipping of a list of arrays (tasks 2 and 3).
    "clip-rebinds-list-items": (redefine("clip_grads_by_global_norm_", '''
def clip_grads_by_global_norm_(grads, max_norm):
    total = global_norm(grads)
    if not (isinstance(max_norm, (int, float, np.number)) and max_norm > 0):
        raise ValueError("max_norm must be positive")
    if not math.isfinite(total):
        raise FloatingPointError("non-finite gradient")
    if total > max_norm:
        for i in range(len(grads)):
            grads[i] = grads[i] * (max_norm / (total + 1e-6))  # a new array: the caller's is unchanged
    return float(total)
'''), {"status": "graded", "score": 65, "flag": None}),
    "clip-scales-then-raises": (redefine("clip_grads_by_global_norm_", '''
def clip_grads_by_global_norm_(grads, max_norm):
    if not all(np.isfinite(g).all() for g in grads):
        grads[0][...] = 0  # changed before the error below: the caller must see it
    return _solved(grads, max_norm)
'''), {"status": "graded", "score": 65, "flag": None}),
    "clip-by-value-not-in-place": (redefine("clip_grads_by_value_", '''
def clip_grads_by_value_(grads, clip_value):
    return [np.clip(g, -clip_value, clip_value) for g in grads]
'''), {"status": "graded", "score": 85, "flag": None}),
    "clip-returns-a-tensor": (redefine("clip_grads_by_global_norm_", '''
def clip_grads_by_global_norm_(grads, max_norm):
    return torch.tensor(_solved(grads, max_norm))
'''), {"status": "graded", "score": 65, "flag": None}),
    # global_norm (task 1), and the reference that task 2 substitutes for it inside the sandbox.
    "global-norm-overflows-float32": (redefine("global_norm", '''
def global_norm(grads):
    return float(np.sqrt(sum(np.sum(g * g) for g in grads)))
'''), {"status": "graded", "score": 85, "flag": None}),
    "broken-global-norm-patches-substitute": (redefine("global_norm", '''
import seqlab.checks
seqlab.checks.substitute = lambda *a, **k: __import__("contextlib").nullcontext()
def global_norm(grads):
    return 0.0
'''), {"status": "graded", "score": 85, "flag": "monkeypatch"}),
    # jacobian_norms (task 4).
    "jacobian-memory-bomb": (redefine("jacobian_norms", '''
def jacobian_norms(Wx, Wh, b, xs, h0, nonlinearity="tanh"):
    waste = np.ones((10**6, 10**6))
    return _solved(Wx, Wh, b, xs, h0, nonlinearity)
'''), {"status": "graded", "score": 65, "flag": None}),
    "jacobian-loops-forever-for-relu": (redefine("jacobian_norms", '''
def jacobian_norms(Wx, Wh, b, xs, h0, nonlinearity="tanh"):
    while nonlinearity == "relu":
        pass
    return _solved(Wx, Wh, b, xs, h0, nonlinearity)
'''), {"status": "graded", "score": 65, "flag": "timeout"}),
}
