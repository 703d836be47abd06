"""The secure grader against adversarial and broken submissions (``tests/redteam/<exercise>.py``).

All of them are graded in ONE parallel run (two workers, short time limits), then each outcome
is checked: score, status, and the flag in the instructor's report. The same run checks that the
submissions are never modified, that feedback hides the hidden tests, and that a second run gives
identical results.
"""
from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder import grade
from autograder.nbgrader_cli import REPO, nbgrader
from autograder.sandbox import Limits

pytestmark = pytest.mark.slow  # grades dozens of submissions in sandboxes (about two minutes)

ASSIGNMENT = "01_softmax_ce_kl"
LIMITS = Limits(cell_timeout=5, notebook_timeout=90)
HIDDEN_ONLY = ["torch_reference", "dirichlet"]  # names that occur in the hidden tests alone


def load_redteam(assignment: str) -> dict:
    namespace: dict = {}
    path = REPO / "tests" / "redteam" / f"{assignment}.py"
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace["SUBMISSIONS"]


SUBMISSIONS = load_redteam(ASSIGNMENT)


def make_course(root: Path, names) -> dict[str, str]:
    """A course in ``root`` with the exercise released and the named submissions; returns their hashes."""
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, root / "solutions" / ASSIGNMENT)
    nbgrader("generate_assignment", ASSIGNMENT, "--force", root=root)
    release = nbformat.read(root / "notebooks" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    source = nbformat.read(root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    hashes = {}
    for name in names:
        folder = root / "autograder" / "var" / "submitted" / name / ASSIGNMENT
        folder.mkdir(parents=True)
        for file_name, data in SUBMISSIONS[name][0](release, source).items():
            (folder / file_name).write_bytes(data)
        hashes[name] = tree_hash(folder)
    return hashes


def tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("redteam") / "course"
    hashes = make_course(root, SUBMISSIONS)
    results = grade.grade(ASSIGNMENT, root=root, workers=2, limits=LIMITS)
    return root, hashes, results


def test_there_are_at_least_25_adversarial_or_broken_submissions():
    assert len([n for n in SUBMISSIONS if n not in ("solution", "untouched", "partial")]) >= 25


@pytest.mark.parametrize("name", sorted(SUBMISSIONS))
def test_outcome(graded, name):
    root, _, results = graded
    expected, result = SUBMISSIONS[name][1], results[name]
    assert result["status"] == expected["status"], result.get("reason")
    if expected["status"] == "malformed":
        assert expected["flag"] in result["reason"], result["reason"]
        return
    failed = [gid for gid, t in result["tests"].items() if not t["passed"]]
    assert result["score"] == expected["score"], f"failed tests: {failed}; flags: {result['flags']}"
    if expected["flag"] is None:
        assert result["flags"] == [], result["flags"]
    else:
        assert any(expected["flag"] in flag for flag in result["flags"]), result["flags"]


def test_gradebook_and_reports_agree_with_the_results(graded):
    root, _, results = graded
    reports = root / "autograder" / "var" / "reports" / ASSIGNMENT
    with open(reports / "grades.csv", newline="") as f:
        gradebook = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    graded_ones = {n: r["score"] for n, r in results.items() if r["status"] == "graded"}
    assert gradebook == graded_ones  # one row per graded student, malformed ones absent
    with open(reports / "scores.csv", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert set(rows) == set(SUBMISSIONS)
    assert rows["invalid-json"]["status"] == "malformed" and "invalid JSON" in rows["invalid-json"]["reason"]
    with open(reports / "flags.csv", newline="") as f:
        flagged = {row["student_id"] for row in csv.DictReader(f)}
    assert "blank-later-cells" in flagged and "solution" not in flagged
    assert "input-transformer" in (reports / "students" / "blank-later-cells.txt").read_text()


def test_submissions_are_never_modified(graded):
    root, hashes, _ = graded
    for name, digest in hashes.items():
        assert tree_hash(root / "autograder" / "var" / "submitted" / name / ASSIGNMENT) == digest, name
    assert not Path("/work/pwned").exists()


def test_feedback_shows_results_but_not_hidden_tests(graded):
    root, _, results = graded
    for name, result in results.items():
        if result["status"] != "graded":
            continue
        html = (root / "autograder" / "var" / "feedback" / name / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
        assert "Task 1" in html
        assert not [word for word in HIDDEN_ONLY if word in html], f"{name}'s feedback reveals hidden tests"
    partial = (root / "autograder" / "var" / "feedback" / "partial" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "Task 1: hidden tests passed." in partial  # hidden tests' outcomes are shown


def test_a_second_run_gives_identical_grades_without_regrading(graded, capsys):
    root, _, results = graded
    again = grade.grade(ASSIGNMENT, root=root, workers=2, limits=LIMITS)
    assert again == results
    assert "0 graded now" in capsys.readouterr().out
