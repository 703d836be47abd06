"""`make grade-demo`: autograde three demo submissions of exercise 01 and print their scores.

The demo runs the instructor's whole flow (generate the release, then the secure grader of
``autograder.grade``: sandboxed runs, nbgrader's gradebook, feedback, reports) in a throw-away course directory, ``_build/grade-demo/``, so the course's real
gradebook and submissions are never touched. The three submissions are built from the
exercise itself:

- ``demo-solution``: the release with every answer cell filled in from the solution;
- ``demo-untouched``: the release exactly as students receive it;
- ``demo-partial``: only the first task answered (it scores that task's points).
"""
from __future__ import annotations

import copy
import shutil
from pathlib import Path

import nbformat

from autograder.grade import grade
from autograder.nbgrader_cli import REPO, nbgrader

ASSIGNMENT = "01_softmax_ce_kl"
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def solution_code(source_cell_text: str) -> str:
    """A source cell's text as a student who solved it would submit it: the markers removed."""
    return "\n".join(line for line in source_cell_text.splitlines() if line.strip() not in MARKERS)


def answered(release: nbformat.NotebookNode, source: nbformat.NotebookNode, grade_ids: set[str]) -> nbformat.NotebookNode:
    """A copy of the release whose answer cells named in ``grade_ids`` hold the solution."""
    solutions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells if "nbgrader" in c.metadata}
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and meta["grade_id"] in grade_ids:
            cell.source = solution_code(solutions[meta["grade_id"]])
    return nb


def first_answer(source: nbformat.NotebookNode) -> str:
    """The grade id of the exercise's first answer cell."""
    return next(c.metadata["nbgrader"]["grade_id"] for c in source.cells if c.metadata.get("nbgrader", {}).get("solution"))


def first_task_points(source: nbformat.NotebookNode) -> float:
    """The points of the test cell that checks the first answer (``test-<answer id>``)."""
    test_id = f"test-{first_answer(source)}"
    return float(next(c.metadata["nbgrader"]["points"] for c in source.cells
                      if c.metadata.get("nbgrader", {}).get("grade_id") == test_id))


def run(root: Path = REPO / "_build" / "grade-demo", workers: int | None = None) -> dict[str, float]:
    """Build the demo course in ``root``, grade it, and return ``{student: score}``."""
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, root / "solutions" / ASSIGNMENT)
    nbgrader("generate_assignment", ASSIGNMENT, "--force", root=root)

    notebook = f"{ASSIGNMENT}.ipynb"
    source = nbformat.read(root / "solutions" / ASSIGNMENT / notebook, as_version=4)
    release = nbformat.read(root / "notebooks" / ASSIGNMENT / notebook, as_version=4)
    all_answers = {c.metadata["nbgrader"]["grade_id"] for c in source.cells
                   if c.metadata.get("nbgrader", {}).get("solution")}
    submissions = {
        "demo-solution": answered(release, source, all_answers),
        "demo-untouched": release,
        "demo-partial": answered(release, source, {first_answer(source)}),
    }
    for student, nb in submissions.items():
        folder = root / "autograder" / "var" / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        if nb is release:  # byte for byte what students receive
            shutil.copyfile(root / "notebooks" / ASSIGNMENT / notebook, folder / notebook)
        else:
            nbformat.write(nb, folder / notebook)

    results = grade(ASSIGNMENT, root=root, workers=workers, quiet=True)
    scores = {student: float(results[student]["score"]) for student in submissions}
    max_score = float(results["demo-solution"]["max_score"])
    grades_csv = root / "autograder" / "var" / "reports" / ASSIGNMENT / "scores.csv"

    def shown(path: Path) -> str:
        return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)

    print(f"Exercise {ASSIGNMENT}, graded in {shown(root)}:")
    print(f"  {'student':<16}{'score':>7}{'of':>5}   feedback")
    for student, score in scores.items():
        feedback = root / "autograder" / "var" / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
        where = shown(feedback) if feedback.is_file() else "(none)"
        print(f"  {student:<16}{score:>7.1f}{max_score:>5.0f}   {where}")
    print(f"  scores in {shown(grades_csv)}, flags in {shown(grades_csv.with_name('flags.csv'))}")
    return scores


if __name__ == "__main__":
    run()
