"""Adversarial and broken submissions of exercise 01, each with the outcome the grader must give.

``SUBMISSIONS[name] = (build, expected)``: ``build(release, source)`` returns the submitted folder's
files (``{file name: bytes}``); ``expected`` is ``{"status": ..., "score": ..., "flag": ...}``, where
``flag`` is a word that one of the grade report's flags must contain (None: no flag at all).
Task points: label_smoothing_optimum 15, smoothed_sequence_cross_entropy 25, temperature_nll 25,
fit_temperature 35. The solution's fit_temperature does not call temperature_nll, and the hidden
tests of task 4 hand the student's code a reference temperature_nll, so a broken or missing
temperature_nll costs 25 points only.
The helpers (``solved``, ``cell``, ``prepend``, ``append``, ``insert_after``) are ``_notebooks.py``'s.
"""
import copy
import json

import nbformat

NAME = "01_softmax_ce_kl.ipynb"


def files(nb):
    return notebook_files(nb, NAME)  # noqa: F821 (from _notebooks.py)


BLANK_LATER_CELLS = "get_ipython().input_transformers_cleanup.append(lambda lines: [])"


def delete_test_cells(nb):
    nb.cells = [c for c in nb.cells if not (c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution"))]
    return nb


def edit_test_cell(nb):
    cell(nb, "test-label_smoothing_optimum").source = "print('Task 1: visible tests passed.')"
    return nb


def duplicate_answer(nb, source):
    good = solved(nb, source, only={"label_smoothing_optimum"})
    copy_of_answer = copy.deepcopy(cell(good, "label_smoothing_optimum"))
    copy_of_answer["id"] = "dup-label-smoothing-optimum"
    nb.cells.insert(nb.cells.index(cell(nb, "test-label_smoothing_optimum")), copy_of_answer)
    return nb


def change_metadata(nb):
    meta = cell(nb, "test-label_smoothing_optimum").metadata["nbgrader"]
    meta["points"] = 100
    meta["grade"] = False
    return nb


def strip_answer_metadata(nb):
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("solution"):
            del c.metadata["nbgrader"]
    return nb


def nbformat3(release, source):
    document = json.loads(nbformat.writes(release))
    document["nbformat"] = 3
    return {NAME: json.dumps(document).encode()}


S = solved
SUBMISSIONS = {
    # Baselines.
    "solution": (lambda r, s: files(S(r, s)), {"status": "graded", "score": 100, "flag": None}),
    "untouched": (lambda r, s: files(r), {"status": "graded", "score": 0, "flag": None}),
    "partial": (lambda r, s: files(S(r, s, {"label_smoothing_optimum"})), {"status": "graded", "score": 15, "flag": None}),
    # Tampering with the tests.
    "blank-later-cells": (lambda r, s: files(prepend(copy.deepcopy(r), "label_smoothing_optimum", BLANK_LATER_CELLS)),
                          {"status": "graded", "score": 0, "flag": "input-transformer"}),
    "patch-numpy-testing": (lambda r, s: files(prepend(copy.deepcopy(r), "label_smoothing_optimum",
                            "import numpy.testing\nnumpy.testing.assert_allclose = lambda *a, **k: None")),
                            {"status": "graded", "score": 0, "flag": "monkeypatch"}),
    "patch-seqlab-checks": (lambda r, s: files(prepend(copy.deepcopy(r), "label_smoothing_optimum",
                            "import seqlab.checks as c\nc.check_close = lambda *a, **k: None\nc.check_array = lambda n, g, s=None: g")),
                            {"status": "graded", "score": 0, "flag": "monkeypatch"}),
    "patch-builtins": (lambda r, s: files(prepend(copy.deepcopy(r), "label_smoothing_optimum",
                       "import builtins\nbuiltins.all = lambda *a: True\nbuiltins.AssertionError = type('Quiet', (Exception,), {})")),
                       {"status": "graded", "score": 0, "flag": "monkeypatch"}),
    "sys-exit-before-tests": (lambda r, s: files(prepend(copy.deepcopy(r), "label_smoothing_optimum", "import sys\nsys.exit(0)")),
                              {"status": "graded", "score": 0, "flag": "exit"}),
    "os-exit-before-tests": (lambda r, s: files(prepend(S(r, s), "temperature_nll", "import os\nos._exit(0)")),
                             {"status": "graded", "score": 75, "flag": "process-ended"}),
    "sys-exit-during-tests": (lambda r, s: files(append(S(r, s), "temperature_nll",
                              "def temperature_nll(logits, labels, temperature):\n    import sys\n    sys.exit(0)")),
                              {"status": "graded", "score": 75, "flag": "exit"}),
    "delete-test-cells": (lambda r, s: files(delete_test_cells(copy.deepcopy(r))),
                          {"status": "graded", "score": 0, "flag": "test-cell-deleted"}),
    "delete-test-cells-solved": (lambda r, s: files(delete_test_cells(S(r, s))),
                                 {"status": "graded", "score": 100, "flag": "test-cell-deleted"}),
    "edit-test-cell": (lambda r, s: files(edit_test_cell(copy.deepcopy(r))),
                       {"status": "graded", "score": 0, "flag": "test-cell-edited"}),
    "duplicate-grade-id": (lambda r, s: files(duplicate_answer(copy.deepcopy(r), s)),
                           {"status": "graded", "score": 15, "flag": "duplicate-grade-id"}),
    "change-metadata": (lambda r, s: files(change_metadata(copy.deepcopy(r))),
                        {"status": "graded", "score": 0, "flag": "metadata"}),
    "answers-without-metadata": (lambda r, s: files(strip_answer_metadata(S(r, s))),
                                 {"status": "graded", "score": 100, "flag": "answer-cell-deleted"}),
    "fake-success-output": (lambda r, s: files(prepend(copy.deepcopy(r), "label_smoothing_optimum",
                            "print('Task 1: visible tests passed.')\nprint('Task 1: hidden tests passed.')")),
                            {"status": "graded", "score": 0, "flag": "fake-output"}),
    # Escaping the sandbox.
    "read-solutions": (lambda r, s: files(prepend(copy.deepcopy(r), "label_smoothing_optimum",
                       "import glob, json\nfor path in glob.glob('/work/*/solutions/*/*.ipynb') + glob.glob('/tmp/**/solutions/*/*.ipynb', recursive=True) + "
                       "glob.glob('../../**/solutions/*/*.ipynb', recursive=True):\n"
                       "    exec(''.join(c['source'] for c in json.load(open(path))['cells'] if c['cell_type'] == 'code'))")),
                       {"status": "graded", "score": 0, "flag": None}),
    "network": (lambda r, s: files(prepend(S(r, s), "label_smoothing_optimum",
                "import urllib.request\nurllib.request.urlopen('http://example.com', timeout=2)")),
                {"status": "graded", "score": 85, "flag": None}),
    "write-outside": (lambda r, s: files(append(S(r, s), "temperature_nll",
                      "_nll = temperature_nll\ndef temperature_nll(logits, labels, temperature):\n"
                      "    open('/work/pwned', 'w').write('x')\n    return _nll(logits, labels, temperature)")),
                      {"status": "graded", "score": 75, "flag": None}),
    # Limits.
    "infinite-loop-in-function": (lambda r, s: files(append(S(r, s), "smoothed_sequence_cross_entropy",
                                  "def smoothed_sequence_cross_entropy(logits, targets, smoothing, ignore_index=-100):\n"
                                  "    while True:\n        pass")),
                                  {"status": "graded", "score": 75, "flag": "timeout"}),
    "infinite-loop-at-top-level": (lambda r, s: files(append(S(r, s), "temperature_nll", "while True:\n    pass")),
                                   {"status": "graded", "score": 75, "flag": "timeout"}),
    "memory-bomb": (lambda r, s: files(append(S(r, s), "fit_temperature",
                    "_fit = fit_temperature\ndef fit_temperature(logits, labels):\n    waste = np.ones((10**6, 10**6))\n"
                    "    return _fit(logits, labels)")),
                    {"status": "graded", "score": 65, "flag": None}),
    "fork-bomb": (lambda r, s: files(insert_after(S(r, s), "imports", "import os\nfor _ in range(1000):\n    os.fork()")),
                  {"status": "graded", "score": 100, "flag": None}),
    "huge-output": (lambda r, s: files(insert_after(S(r, s), "imports", "print('x' * 20_000_000)")),
                    {"status": "graded", "score": 100, "flag": None}),
    "huge-file": (lambda r, s: files(insert_after(S(r, s), "imports",
                  "try:\n    open('big.bin', 'wb').write(b'0' * 200 * 2**20)\nexcept OSError as e:\n    print(e)")),
                  {"status": "graded", "score": 100, "flag": None}),
    "not-plain-data": (lambda r, s: files(append(S(r, s), "label_smoothing_optimum",
                       "def label_smoothing_optimum(num_classes, smoothing):\n    return lambda: num_classes")),
                       {"status": "graded", "score": 85, "flag": None}),
    "mutates-its-input": (lambda r, s: files(append(S(r, s), "smoothed_sequence_cross_entropy",
                          "_ce = smoothed_sequence_cross_entropy\n"
                          "def smoothed_sequence_cross_entropy(logits, targets, smoothing, ignore_index=-100):\n"
                          "    out = _ce(logits, targets, smoothing, ignore_index)\n    logits[...] = 0\n    return out")),
                          {"status": "graded", "score": 75, "flag": None}),
    # Broken files.
    "invalid-json": (lambda r, s: {NAME: nbformat.writes(r).encode()[:-200]}, {"status": "malformed", "flag": "invalid JSON"}),
    "nbformat-3": (nbformat3, {"status": "malformed", "flag": "wrong nbformat"}),
    "missing-notebook": (lambda r, s: {"notes.txt": b"I forgot the notebook"}, {"status": "malformed", "flag": "missing notebook"}),
    "wrong-file-name": (lambda r, s: {"my_answers.ipynb": nbformat.writes(S(r, s)).encode()}, {"status": "malformed", "flag": "wrong file name"}),
    "not-utf8": (lambda r, s: {NAME: nbformat.writes(r).encode().replace(b"Exercise 01", b"Exercise \xff\xfe")},
                 {"status": "malformed", "flag": "not UTF-8"}),
    "enormous": (lambda r, s: {NAME: nbformat.writes(r).encode()[:-2] + b' ' * (21 * 2**20) + b"}\n"},
                 {"status": "malformed", "flag": "enormous file"}),
}
