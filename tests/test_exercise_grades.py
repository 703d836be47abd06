"""Every exercise, through the secure grader: its solution scores 100 with no flag, and its
untouched release scores 0 (the release passes nothing, so it cannot earn points by accident).

One throw-away course holds every exercise; each is graded once, in parallel, in the sandbox.
New exercises are covered without editing this file."""
from __future__ import annotations

import shutil

import nbformat
import pytest

from autograder.demo import answered
from autograder.grade import grade
from autograder.nbgrader_cli import REPO, assignments, nbgrader

pytestmark = pytest.mark.slow  # builds, grades or drives a browser: `-m "not slow"` skips it

ASSIGNMENTS = assignments()


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, dict[str, dict]]:
    """``{assignment: {student: result}}`` for a correct and an untouched submission of each exercise."""
    root = tmp_path_factory.mktemp("course")
    results = {}
    for assignment in ASSIGNMENTS:
        notebook = f"{assignment}.ipynb"
        shutil.copytree(REPO / "solutions" / assignment, root / "solutions" / assignment)
        nbgrader("generate_assignment", assignment, "--force", root=root)
        source = nbformat.read(root / "solutions" / assignment / notebook, as_version=4)
        release = nbformat.read(root / "notebooks" / assignment / notebook, as_version=4)
        answers = {c.metadata["nbgrader"]["grade_id"] for c in source.cells
                   if c.metadata.get("nbgrader", {}).get("solution")}
        for student, nb in {"solution": answered(release, source, answers), "untouched": release}.items():
            folder = root / "autograder" / "var" / "submitted" / student / assignment
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / notebook)
        results[assignment] = grade(assignment, root=root, workers=2, feedback=False, quiet=True)
    return results


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_scores_100_and_release_scores_0(graded, assignment):
    solution, untouched = graded[assignment]["solution"], graded[assignment]["untouched"]
    assert solution["status"] == "graded", solution.get("reason")
    assert float(solution["max_score"]) == 100.0
    assert float(solution["score"]) == 100.0, f"the solution of {assignment} loses points: {solution}"
    assert not solution["flags"], f"the solution of {assignment} is flagged: {solution['flags']}"
    assert float(untouched["score"]) == 0.0, f"the untouched release of {assignment} earns points"
