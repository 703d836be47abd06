"""The nbgrader preprocessor that takes the place of ``Execute`` in this course.

``nbgrader autograde`` would execute each submission with the instructor's rights (able to read
the solutions and rewrite the gradebook), and Formgrader's autograde button runs it. In the
course's configuration (``autograder/nbgrader_config.py``) nothing is executed there: every
submission has already been run (in the sandbox) and tested (in a trusted process) by
``autograder.grade``, whose results wait in ``<results_dir>/<student>.json``, and this
preprocessor puts their outputs in place. ``nbgrader autograde`` still does everything else,
serially and as the gradebook's only writer: restoring the locked and test cells, storing the
grades, late penalties, the autograded notebooks that feedback is made from. Run without
``results_dir`` (plain ``nbgrader autograde``, Formgrader's button), it refuses, naming the
command that grades in the sandbox.
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode


class FillOutputsFromCache(NbGraderPreprocessor):
    """Put the outputs the secure grader recorded into each code cell (nothing is executed)."""

    results_dir = Unicode("", help="folder of the secure grader's <student>.json results; "
                                   "autograder.grade sets it").tag(config=True)

    def preprocess(self, nb, resources):
        student, assignment = resources["nbgrader"]["student"], resources["nbgrader"]["assignment"]
        if not self.results_dir:
            raise RuntimeError(
                f"This course never runs a student's code unsandboxed: plain `nbgrader autograde` (and "
                f"Formgrader's autograde button) would run {student}'s submission with your rights. Grade "
                f"every submission in the sandbox instead, in a terminal: `python -m autograder.grade "
                f"{assignment} --root <the course folder>` (`make grade` in the repository); its scores "
                f"then show here.")
        result = json.loads((Path(self.results_dir) / f"{student}.json").read_text())
        if result.get("cell_count") != len(nb.cells):
            raise ValueError(f"the cached result of {student} is for a notebook of {result.get('cell_count')} cells, "
                             f"not {len(nb.cells)}: delete {self.results_dir}/{student}.json and grade again")
        outputs = result["outputs"]
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                cell.outputs = [nbformat.from_dict(o) for o in outputs.get(str(index), [])]
                cell.execution_count = None
        return nb, resources
