"""Helpers shared by the red-team files: the loader runs this file first, in the same namespace.

Each ``tests/redteam/<exercise>.py`` builds submissions from the exercise's release and source
notebooks with these, and defines ``NAME`` (the notebook's file name) and ``SUBMISSIONS``.
"""
import copy

import nbformat

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def solved(release, source, only=None):
    """The release with the solution in every answer cell (or in those named in ``only``)."""
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers and (only is None or gid in only):
            cell.source = "\n".join(l for l in answers[gid].splitlines() if l.strip() not in MARKERS)
    return nb


def cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def prepend(nb, grade_id, code):
    cell(nb, grade_id).source = code + "\n" + cell(nb, grade_id).source
    return nb


def append(nb, grade_id, code):
    cell(nb, grade_id).source += "\n" + code
    return nb


def insert_after(nb, grade_id, code):
    index = nb.cells.index(cell(nb, grade_id))
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(code))
    return nb


def notebook_files(nb, name):
    return {name: nbformat.writes(nb).encode()}
