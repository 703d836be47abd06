"""Adversarial and broken submissions of exercise 02, each with the outcome the grader must give.

Same format as ``01_softmax_ce_kl.py`` (helpers from ``_notebooks.py``). Task points:
markov_model_perplexity 25 (a float), masked_rnn_backward 35 (masked BPTT over padded sequences, a
TUPLE of five arrays), masked_birnn_backward 40 (bidirectional masked BPTT, a TUPLE whose last two
entries are TUPLES of three arrays). The shapes of this exercise's answers are what these probe: a
tuple must come back a tuple, a NumPy scalar a number, and a generator or an object must be refused
with a message, not crash the grader.
"""
import copy

NAME = "02_rnn.ipynb"


def files(nb):
    return notebook_files(nb, NAME)  # noqa: F821 (from _notebooks.py)


def wrap(grade_id, signature, body):
    """Append to an answer cell a new definition of its function that calls the solved one as ``_solved``."""
    name = signature.split("(")[0]
    return lambda r, s: files(append(solved(r, s), grade_id,  # noqa: F821
                                     f"_solved = {name}\ndef {signature}:\n" + "".join(f"    {line}\n" for line in body)))


MARKOV = "markov_model_perplexity(P, Q)"
BACKWARD = "masked_rnn_backward(dhs, dh_last, xs, hs, h0, mask, Wx, Wh)"
BIRNN = "masked_birnn_backward(douts, dh_n, xs, outs, h0, mask, forward_weights, reverse_weights)"
BIRNN_ARGS = "douts, dh_n, xs, outs, h0, mask, forward_weights, reverse_weights"

# Looks for the instructor's files from inside the sandbox; defines a correct answer only if it finds one.
HUNT_FOR_HIDDEN_TESTS = '''import os
found = []
for top, folders, names in os.walk("/"):
    folders[:] = [f for f in folders if os.path.join(top, f) not in ("/usr", "/proc", "/sys", "/dev")
                  and f not in ("site-packages", "include", "share")]
    found += [os.path.join(top, n) for n in names if n == "gradebook.db"]
    found += [os.path.join(top, f) for f in folders if f in ("solutions", "submitted", "autograded", "feedback")]
print(len(found), "instructor files found")
if found:
    def markov_model_perplexity(P, Q):
        return float(len(P))
'''

SUBMISSIONS = {
    # Baselines.
    "solution": (lambda r, s: files(solved(r, s)), {"status": "graded", "score": 100, "flag": None}),  # noqa: F821
    "untouched": (lambda r, s: files(r), {"status": "graded", "score": 0, "flag": None}),
    "partial": (lambda r, s: files(solved(r, s, {"markov_model_perplexity"})),  # noqa: F821
                {"status": "graded", "score": 25, "flag": None}),
    # Model perplexity (task 1): one number.
    "markov-returns-a-numpy-scalar": (wrap("markov_model_perplexity", MARKOV, ["return np.float64(_solved(P, Q))"]),
                                      {"status": "graded", "score": 100, "flag": None}),
    "markov-wrong-and-patches-the-checks": (lambda r, s: files(append(solved(r, s), "markov_model_perplexity",  # noqa: F821
                                            "import seqlab.checks\nseqlab.checks.check_close = lambda *a, **k: None\n"
                                            "np.isscalar = lambda x: True\nmarkov_model_perplexity = lambda P, Q: 0.0")),
                                            {"status": "graded", "score": 75, "flag": "monkeypatch"}),
    "hunt-for-hidden-tests": (lambda r, s: files(insert_after(copy.deepcopy(r), "imports", HUNT_FOR_HIDDEN_TESTS)),  # noqa: F821
                              {"status": "graded", "score": 0, "flag": None}),
    # Masked BPTT (task 2): a tuple of five arrays.
    "bptt-ignores-the-mask": (wrap("masked_rnn_backward", BACKWARD,
                              ["return _solved(dhs, dh_last, xs, hs, h0, np.ones_like(mask), Wx, Wh)"]),
                              {"status": "graded", "score": 65, "flag": None}),
    "bptt-returns-a-list": (wrap("masked_rnn_backward", BACKWARD,
                            ["return list(_solved(dhs, dh_last, xs, hs, h0, mask, Wx, Wh))"]),
                            {"status": "graded", "score": 65, "flag": None}),
    "bptt-os-exit-others-still-graded": (wrap("masked_rnn_backward", BACKWARD, ["import os", "os._exit(3)"]),
                                         {"status": "graded", "score": 65, "flag": "process-ended"}),
    # The visible tests use T <= 4; the hidden ones reach T = 5 and more. Task 3, after it, is still graded.
    "bptt-loops-forever-on-hidden-inputs": (wrap("masked_rnn_backward", BACKWARD,
                                            ["while xs.shape[1] > 4:", "    pass",
                                             "return _solved(dhs, dh_last, xs, hs, h0, mask, Wx, Wh)"]),
                                            {"status": "graded", "score": 65, "flag": "timeout"}),
    "edit-locked-forward": (lambda r, s: files(prepend(solved(r, s), "masked_rnn_forward",  # noqa: F821
                            "# the forward pass, simplified\nmasked_rnn_forward = lambda xs, h0, mask, Wx, Wh, b: (0 * xs, h0)")),
                            {"status": "graded", "score": 100, "flag": "locked-cell-edited"}),
    # Bidirectional masked BPTT (task 3): (dxs, dh0, (dWx, dWh, db), (dWx_r, dWh_r, db_r)).
    "birnn-returns-a-generator": (wrap("masked_birnn_backward", BIRNN, [f"return (part for part in _solved({BIRNN_ARGS}))"]),
                                  {"status": "graded", "score": 60, "flag": None}),
    "birnn-grads-as-lists-not-tuples": (wrap("masked_birnn_backward", BIRNN,
                                        [f"dxs, dh0, forward_grads, reverse_grads = _solved({BIRNN_ARGS})",
                                         "return dxs, dh0, list(forward_grads), list(reverse_grads)"]),
                                        {"status": "graded", "score": 60, "flag": None}),
}
