"""The secure grader against adversarial and broken submissions (``tests/redteam/<exercise>.py``).

One course holds every exercise that has a red-team file. Each exercise's submissions are graded
in ONE parallel run (two workers, short time limits) the first time a test asks for them, then
every outcome is checked: score, status, and the flag in the instructor's report. The same run
checks that the submissions are never modified, that feedback hides the hidden tests, and that a
second run gives identical results without grading anything again.
"""
from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder import grade, rules
from autograder.nbgrader_cli import REPO, nbgrader
from autograder.sandbox import Limits

pytestmark = pytest.mark.slow  # grades about fifty submissions in sandboxes (minutes)

REDTEAM = REPO / "tests" / "redteam"
ASSIGNMENTS = sorted(p.stem for p in REDTEAM.glob("[0-9]*.py"))
# Short limits keep the infinite loops cheap; every legitimate cell of these exercises ends in about a
# second, and the margin is for a loaded 2-core machine running two test files at once.
LIMITS = Limits(cell_timeout=10, notebook_timeout=120)
BASELINES = ("solution", "untouched", "partial")
def load_redteam(assignment: str) -> dict:
    """``SUBMISSIONS`` of ``tests/redteam/<assignment>.py``, run after the shared ``_notebooks.py``."""
    namespace: dict = {}
    for path in (REDTEAM / "_notebooks.py", REDTEAM / f"{assignment}.py"):
        exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace["SUBMISSIONS"]


SUBMISSIONS = {assignment: load_redteam(assignment) for assignment in ASSIGNMENTS}
CASES = [(assignment, name) for assignment in ASSIGNMENTS for name in sorted(SUBMISSIONS[assignment])]


def tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def add_exercise(root: Path, assignment: str) -> dict[str, str]:
    """Release ``assignment`` in the course at ``root`` and submit its red-team notebooks; returns their hashes."""
    shutil.copytree(REPO / "solutions" / assignment, root / "solutions" / assignment)
    nbgrader("generate_assignment", assignment, "--force", root=root)
    release = nbformat.read(root / "notebooks" / assignment / f"{assignment}.ipynb", as_version=4)
    source = nbformat.read(root / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    hashes = {}
    for name, (build, _) in SUBMISSIONS[assignment].items():
        folder = root / "autograder" / "var" / "submitted" / name / assignment
        folder.mkdir(parents=True)
        for file_name, data in build(release, source).items():
            (folder / file_name).write_bytes(data)
        hashes[name] = tree_hash(folder)
    return hashes


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """``graded(assignment)`` -> (course root, submission hashes, results), graded once per module."""
    root = tmp_path_factory.mktemp("redteam") / "course"
    runs: dict[str, tuple] = {}

    def run(assignment: str):
        if assignment not in runs:
            hashes = add_exercise(root, assignment)
            runs[assignment] = (root, hashes, grade.grade(assignment, root=root, workers=2, limits=LIMITS))
        return runs[assignment]

    return run


def test_there_are_at_least_25_adversarial_or_broken_submissions_and_each_exercise_has_its_own():
    adversarial = {a: [n for n in SUBMISSIONS[a] if n not in BASELINES] for a in ASSIGNMENTS}
    assert sum(map(len, adversarial.values())) >= 25
    assert set(ASSIGNMENTS) >= {"01_softmax_ce_kl", "02_rnn", "03_gradient_flow"}
    assert all(len(names) >= 8 for names in adversarial.values()), {a: len(n) for a, n in adversarial.items()}


@pytest.mark.parametrize("assignment, name", CASES, ids=[f"{a}/{n}" for a, n in CASES])
def test_outcome(graded, assignment, name):
    _, _, results = graded(assignment)
    expected, result = SUBMISSIONS[assignment][name][1], results[name]
    assert result["status"] == expected["status"], result.get("reason")
    if expected["status"] == "malformed":
        assert expected["flag"] in result["reason"], result["reason"]
        return
    failed = {gid: t for gid, t in result["tests"].items() if not t["passed"]}
    assert result["score"] == expected["score"], f"failed tests: {sorted(failed)}; flags: {result['flags']}"
    if expected["flag"] is None:
        assert result["flags"] == [], result["flags"]
    else:
        assert any(expected["flag"] in flag for flag in result["flags"]), result["flags"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_gradebook_and_reports_agree_with_the_results(graded, assignment):
    root, _, results = graded(assignment)
    reports = root / "autograder" / "var" / "reports" / assignment
    with open(reports / "grades.csv", newline="") as f:
        exported = list(csv.DictReader(f))
    assert {row["assignment"] for row in exported} == {assignment}
    gradebook = {row["student_id"]: float(row["score"]) for row in exported}
    graded_ones = {n: r["score"] for n, r in results.items() if r["status"] == "graded"}
    # One row per graded student; the course's students who did not submit this exercise get 0 from
    # nbgrader; a malformed submission never reaches the gradebook.
    assert {n: s for n, s in gradebook.items() if n in graded_ones} == graded_ones
    assert all(score == 0 and n not in SUBMISSIONS[assignment] for n, score in gradebook.items() if n not in graded_ones)
    with open(reports / "scores.csv", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert set(rows) == set(SUBMISSIONS[assignment])
    assert all(float(rows[n]["score"]) == r["score"] for n, r in results.items())
    with open(reports / "flags.csv", newline="") as f:
        flagged = {row["student_id"] for row in csv.DictReader(f)}
    assert flagged == {n for n, r in results.items() if r["flags"]} and "solution" not in flagged
    if assignment == "01_softmax_ce_kl":
        assert rows["invalid-json"]["status"] == "malformed" and "invalid JSON" in rows["invalid-json"]["reason"]
        assert "input-transformer" in (reports / "students" / "blank-later-cells.txt").read_text()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_submissions_are_never_modified(graded, assignment):
    root, hashes, _ = graded(assignment)
    for name, digest in hashes.items():
        assert tree_hash(root / "autograder" / "var" / "submitted" / name / assignment) == digest, name
    assert not Path("/work/pwned").exists()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_feedback_shows_results_but_not_hidden_tests(graded, assignment):
    root, _, results = graded(assignment)
    release = (root / "notebooks" / assignment / f"{assignment}.ipynb").read_text()
    source = nbformat.read(root / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    hidden_only = rules.hidden_only_names(source, release)
    assert hidden_only, "the hidden tests should have names of their own to look for"
    for name, result in results.items():
        if result["status"] != "graded":
            continue
        html = (root / "autograder" / "var" / "feedback" / name / assignment / f"{assignment}.html").read_text()
        assert "Task 1" in html
        assert not [word for word in hidden_only if word in html], f"{name}'s feedback reveals hidden tests"
    solution = (root / "autograder" / "var" / "feedback" / "solution" / assignment / f"{assignment}.html").read_text()
    assert "Task 1: hidden tests passed." in solution  # hidden tests' outcomes are shown


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_second_run_gives_identical_grades_without_regrading(graded, assignment, capsys):
    root, _, results = graded(assignment)
    capsys.readouterr()
    again = grade.grade(assignment, root=root, workers=2, limits=LIMITS, feedback=False)
    assert again == results
    assert "0 graded now" in capsys.readouterr().out
