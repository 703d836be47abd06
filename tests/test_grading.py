"""`make grade-demo`: nbgrader grades the solution 100, the untouched release 0, a partial answer 25."""
import csv

import pytest

from autograder import demo

pytestmark = pytest.mark.slow  # builds, grades or drives a browser: `-m "not slow"` skips it


def test_grade_demo_scores_and_outputs(tmp_path):
    root = tmp_path / "course"
    scores = demo.run(root)
    assert scores == {"demo-solution": 100.0, "demo-untouched": 0.0, "demo-partial": 25.0}

    with open(root / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["student_id"] for r in rows} == set(scores)
    release = (root / "notebooks" / demo.ASSIGNMENT / f"{demo.ASSIGNMENT}.ipynb").read_text()
    hidden_only = ["torch_reference", "dirichlet"]  # names that occur in hidden tests alone
    assert not [name for name in hidden_only if name in release]
    for student in scores:
        feedback = root / "autograder" / "var" / "feedback" / student / demo.ASSIGNMENT / f"{demo.ASSIGNMENT}.html"
        assert feedback.is_file(), f"no feedback for {student}"
        html = feedback.read_text()
        assert "Task 1" in html
        assert not [name for name in hidden_only if name in html], f"{student}'s feedback reveals hidden tests"
    # Grading never modifies what students submitted.
    submitted = root / "autograder" / "var" / "submitted" / "demo-untouched" / demo.ASSIGNMENT / f"{demo.ASSIGNMENT}.ipynb"
    release = root / "notebooks" / demo.ASSIGNMENT / f"{demo.ASSIGNMENT}.ipynb"
    assert submitted.read_bytes() == release.read_bytes()
