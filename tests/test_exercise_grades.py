"""Every exercise, through the secure grader: its solution scores 100 with no flag, its untouched
release scores 0 (the release passes nothing, so it cannot earn points by accident), and the two
ways of copying an answer score 0 and are flagged:

- ``imports-package``: every answer cell imports everything of every module of the course package,
  then, under the answer's name, each callable of the package whose name is the same or close
  (what a student who guessed that the package holds the answers would try);
- ``uses-torch``: the solution, with PyTorch imported at the top of every answer cell (the first
  line of an answer that would let autograd do a backward pass).

One throw-away course holds every exercise; each is graded once, in parallel, in the sandbox.
New exercises are covered without editing this file."""
from __future__ import annotations

import copy
import difflib
import shutil

import nbformat
import pytest

from autograder import rules
from autograder.demo import answered
from autograder.grade import grade
from autograder.nbgrader_cli import REPO, assignments, nbgrader

pytestmark = pytest.mark.slow  # builds, grades or drives a browser: `-m "not slow"` skips it

ASSIGNMENTS = assignments()
CHEATS = ("imports-package", "uses-torch")


def imports_of_the_package(release: nbformat.NotebookNode, source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The release with each answer cell replaced by imports of the package's same- or close-named callables."""
    callables = rules.package_callables()
    answers = {c.metadata["nbgrader"]["grade_id"]: rules.defined_names(c.source) for c in rules.answer_cells(source)}
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        names = answers.get(cell.metadata.get("nbgrader", {}).get("grade_id"))
        if names is None:
            continue
        modules = sorted({m for found in callables.values() for m in found})
        lines = [f"try:\n    from {module} import *\nexcept Exception:\n    pass" for module in modules]
        for name in names:
            for candidate in dict.fromkeys([name, *difflib.get_close_matches(name, list(callables), n=3, cutoff=0.6)]):
                for module in callables.get(candidate, []):
                    lines += ["try:", f"    from {module} import {candidate} as {name}", "except Exception:", "    pass"]
        cell.source = "\n".join(lines)
    return nb


def with_torch(release: nbformat.NotebookNode, source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = answered(release, source, {c.metadata["nbgrader"]["grade_id"] for c in rules.answer_cells(source)})
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = "import torch\n" + cell.source
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, dict[str, dict]]:
    """``{assignment: {student: result}}`` for the solution, the untouched release and the cheats."""
    root = tmp_path_factory.mktemp("course")
    results = {}
    for assignment in ASSIGNMENTS:
        notebook = f"{assignment}.ipynb"
        shutil.copytree(REPO / "solutions" / assignment, root / "solutions" / assignment)
        nbgrader("generate_assignment", assignment, "--force", root=root)
        source = nbformat.read(root / "solutions" / assignment / notebook, as_version=4)
        release = nbformat.read(root / "notebooks" / assignment / notebook, as_version=4)
        answers = {c.metadata["nbgrader"]["grade_id"] for c in rules.answer_cells(source)}
        submissions = {"solution": answered(release, source, answers), "untouched": release,
                       "imports-package": imports_of_the_package(release, source),
                       "uses-torch": with_torch(release, source)}
        for student, nb in submissions.items():
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


@pytest.mark.parametrize("cheat", CHEATS)
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_an_answer_copied_from_the_package_or_autograd_scores_0_and_is_flagged(graded, assignment, cheat):
    result = graded[assignment][cheat]
    assert result["status"] == "graded", result.get("reason")
    earning = {gid: t["points"] for gid, t in result["tests"].items() if t["points"] > 0}
    assert not earning, f"{cheat} earns points on {assignment}: {earning}"
    assert any(flag.startswith("reference-import") for flag in result["flags"]), \
        f"{cheat} is not flagged for the instructor: {result['flags']}"
