"""Adversarial and broken submissions of exercise 02, each with the outcome the grader must give.

Same format as ``01_softmax_ce_kl.py`` (helpers from ``_notebooks.py``). Task points:
masked_rnn_backward 40 (masked BPTT over padded sequences), bptt_batches 30 (a LIST of (xs, ts)
TUPLES), markov_optimal_perplexity 30 (a float). The shapes of this exercise's answers are what
these probe: a tuple must come back a tuple and a list a list, a NumPy scalar a number, and a
generator or an object must be refused with a message, not crash the grader.
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


BACKWARD = "masked_rnn_backward(dhs, dh_last, xs, hs, h0, mask, Wx, Wh)"
BATCHES = "bptt_batches(ids, batch_size, time_size)"
MARKOV = "markov_optimal_perplexity(P)"

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
    def markov_optimal_perplexity(P):
        return float(len(P))
'''

SUBMISSIONS = {
    # Baselines.
    "solution": (lambda r, s: files(solved(r, s)), {"status": "graded", "score": 100, "flag": None}),  # noqa: F821
    "untouched": (lambda r, s: files(r), {"status": "graded", "score": 0, "flag": None}),
    # Masked BPTT (task 1).
    "bptt-ignores-the-mask": (wrap("masked_rnn_backward", BACKWARD,
                              ["return _solved(dhs, dh_last, xs, hs, h0, np.ones_like(mask), Wx, Wh)"]),
                              {"status": "graded", "score": 60, "flag": None}),
    "bptt-returns-a-list": (wrap("masked_rnn_backward", BACKWARD,
                            ["return list(_solved(dhs, dh_last, xs, hs, h0, mask, Wx, Wh))"]),
                            {"status": "graded", "score": 60, "flag": None}),
    "bptt-os-exit-others-still-graded": (wrap("masked_rnn_backward", BACKWARD, ["import os", "os._exit(3)"]),
                                         {"status": "graded", "score": 60, "flag": "process-ended"}),
    "edit-locked-forward": (lambda r, s: files(prepend(solved(r, s), "masked_rnn_forward",  # noqa: F821
                            "# the forward pass, simplified\nmasked_rnn_forward = lambda xs, h0, mask, Wx, Wh, b: (0 * xs, h0)")),
                            {"status": "graded", "score": 100, "flag": "locked-cell-edited"}),
    # Truncated-BPTT batches (task 2): a list of (xs, ts) tuples.
    "batches-as-a-generator": (wrap("bptt_batches", BATCHES, ["return (block for block in _solved(ids, batch_size, time_size))"]),
                               {"status": "graded", "score": 70, "flag": None}),
    "batches-as-lists-not-tuples": (wrap("bptt_batches", BATCHES, ["return [list(block) for block in _solved(ids, batch_size, time_size)]"]),
                                    {"status": "graded", "score": 70, "flag": None}),
    "batches-loop-forever-on-hidden-inputs": (wrap("bptt_batches", BATCHES,
                                              ["while len(ids) > 11:", "    pass", "return _solved(ids, batch_size, time_size)"]),
                                              {"status": "graded", "score": 70, "flag": "timeout"}),
    # Optimal perplexity (task 3): one number.
    "markov-returns-a-numpy-scalar": (wrap("markov_optimal_perplexity", MARKOV, ["return np.float64(_solved(P))"]),
                                      {"status": "graded", "score": 100, "flag": None}),
    "markov-wrong-and-patches-the-checks": (lambda r, s: files(append(solved(r, s), "markov_optimal_perplexity",  # noqa: F821
                                            "import seqlab.checks\nseqlab.checks.check_close = lambda *a, **k: None\n"
                                            "np.isscalar = lambda x: True\nmarkov_optimal_perplexity = lambda P: 0.0")),
                                            {"status": "graded", "score": 70, "flag": "monkeypatch"}),
    "hunt-for-hidden-tests": (lambda r, s: files(insert_after(copy.deepcopy(r), "imports", HUNT_FOR_HIDDEN_TESTS)),  # noqa: F821
                              {"status": "graded", "score": 0, "flag": None}),
}
