"""The exercises: the student release is generated, fails every graded test, and the hidden
tests catch plausible bugs. (nbval checks separately that each solution notebook reproduces
its stored outputs; see `addopts` in pyproject.toml.)"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.nbgrader_cli import REPO, assignments, nbgrader

pytestmark = pytest.mark.slow  # builds, grades or drives a browser: `-m "not slow"` skips it

ASSIGNMENTS = assignments()


def test_every_exercise_has_a_release_and_vice_versa():
    released = sorted(p.parent.name for p in (REPO / "notebooks").glob("*/*.ipynb"))
    assert ASSIGNMENTS, "no exercise found in solutions/"
    assert released == ASSIGNMENTS, "notebooks/ and solutions/ hold different exercises: run `make release`"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_release_equals_a_fresh_generation(assignment, tmp_path):
    shutil.copytree(REPO / "solutions" / assignment, tmp_path / "solutions" / assignment)
    nbgrader("generate_assignment", assignment, "--force", root=tmp_path)
    fresh = json.loads((tmp_path / "notebooks" / assignment / f"{assignment}.ipynb").read_text())
    committed = json.loads((REPO / "notebooks" / assignment / f"{assignment}.ipynb").read_text())
    assert committed == fresh, f"notebooks/{assignment} is stale or edited by hand: run `make release` and commit it"


def graded_cells(nb):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]


def execute(nb, cwd: Path):
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def errored(cell) -> bool:
    return any(o.get("output_type") == "error" for o in cell.get("outputs", []))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_run_as_is_fails_every_graded_test(assignment, tmp_path):
    nb = nbformat.read(REPO / "notebooks" / assignment / f"{assignment}.ipynb", as_version=4)
    execute(nb, tmp_path)
    cells = graded_cells(nb)
    assert sum(c.metadata["nbgrader"]["points"] for c in cells) == 100, "an exercise is worth 100 points"
    passing = [c.metadata["nbgrader"]["grade_id"] for c in cells if not errored(c)]
    assert not passing, f"the untouched release passes {passing}: those tests do not test the student's answer"


# Plausible student bugs, each written into the solution: (answer cell, code replaced, replacement,
# the test cell that must catch it).
MUTANTS = {
    "log_softmax without the max shift": (
        "log_softmax", "shifted = x - m", "shifted = x", "test-log_softmax"),
    "cross-entropy averaged over padding too": (
        "sequence_cross_entropy", "* counted[..., None] / count", "* counted[..., None] / targets.size",
        "test-sequence_cross_entropy"),
    "KL without the 0 log 0 convention": (
        "kl_divergence", "return np.sum(np.where(p > 0, terms, 0.0), axis=-1)", "return np.sum(terms, axis=-1)",
        "test-kl_divergence"),
    "distillation gradient not divided by N": (
        "distillation_loss", "dlogits = (np.exp(logq) - p) / N", "dlogits = np.exp(logq) - p",
        "test-distillation_loss"),
}


@pytest.mark.parametrize("bug", sorted(MUTANTS))
def test_hidden_tests_catch_a_plausible_bug(bug, tmp_path):
    answer_id, old, new, test_id = MUTANTS[bug]
    nb = nbformat.read(REPO / "solutions" / "01_softmax_ce_kl" / "01_softmax_ce_kl.ipynb", as_version=4)
    cells = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells}
    assert old in cells[answer_id].source, f"mutant '{bug}' no longer applies to the solution"
    cells[answer_id].source = cells[answer_id].source.replace(old, new)
    execute(nb, tmp_path)
    assert errored(cells[test_id]), f"{test_id} passes an answer with the bug '{bug}'"
    failing = [gid for gid, c in cells.items() if errored(c) and gid != test_id]
    assert not failing, f"the bug '{bug}' in {answer_id} also fails {failing}: tests should isolate tasks"
