"""The nbgrader preprocessor that takes the place of ``Execute`` when the secure grader runs.

Every submission has already been run (in the sandbox) and tested (in a trusted process) by
``autograder.grade``; the results wait in ``<results_dir>/<student>.json``. ``nbgrader autograde``
still does everything else, serially and as the gradebook's only writer: restoring the locked and
test cells, storing the grades, late penalties, the autograded notebooks that feedback is made from.
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode


class FillOutputsFromCache(NbGraderPreprocessor):
    """Put the outputs the secure grader recorded into each code cell (nothing is executed)."""

    results_dir = Unicode(help="folder of the secure grader's <student>.json results").tag(config=True)

    def preprocess(self, nb, resources):
        student = resources["nbgrader"]["student"]
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
