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


def load_mutants() -> list[tuple[str, str, tuple[str, str, str, str]]]:
    """Every exercise's plausible student bugs, from ``tests/mutants/<exercise>.py`` (a ``MUTANTS`` dict)."""
    found = []
    for assignment in ASSIGNMENTS:
        path = REPO / "tests" / "mutants" / f"{assignment}.py"
        if not path.is_file():
            continue
        namespace: dict = {}
        exec(compile(path.read_text(), str(path), "exec"), namespace)
        found += [(assignment, bug, spec) for bug, spec in sorted(namespace["MUTANTS"].items())]
    return found


MUTANTS = load_mutants()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_task_has_a_mutant(assignment):
    """Each graded task's hidden tests are shown to catch at least one plausible bug."""
    nb = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    tests = {c.metadata["nbgrader"]["grade_id"] for c in graded_cells(nb)}
    caught = {spec[3] for a, _, spec in MUTANTS if a == assignment}
    assert tests <= caught, f"tests/mutants/{assignment}.py has no mutant for {sorted(tests - caught)}"


@pytest.mark.parametrize("assignment, bug, spec", MUTANTS, ids=[f"{a}: {b}" for a, b, _ in MUTANTS])
def test_hidden_tests_catch_a_plausible_bug(assignment, bug, spec, tmp_path):
    answer_id, old, new, test_id = spec
    nb = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    cells = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}
    assert old in cells[answer_id].source, f"mutant '{bug}' no longer applies to the solution"
    cells[answer_id].source = cells[answer_id].source.replace(old, new)
    execute(nb, tmp_path)
    assert errored(cells[test_id]), f"{test_id} passes an answer with the bug '{bug}'"
    failing = [gid for gid, c in cells.items() if errored(c) and gid != test_id]
    assert not failing, f"the bug '{bug}' in {answer_id} also fails {failing}: tests should isolate tasks"
