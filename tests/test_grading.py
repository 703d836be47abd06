"""The grading pipeline: `make grade-demo`, serial = parallel, resuming after kill -9, refusing to
run without a sandbox. (The adversarial submissions are in test_autograder_redteam.py.)"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from autograder import demo, grade
from autograder.nbgrader_cli import REPO
from autograder.sandbox import Limits

pytestmark = pytest.mark.slow  # builds, grades or drives a browser: `-m "not slow"` skips it

HIDDEN_ONLY = ["torch_reference", "dirichlet"]  # names that occur in hidden tests alone


def load_results(root, assignment=demo.ASSIGNMENT):
    folder = root / "autograder" / "var" / "grading" / assignment / "results"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def test_grade_demo_scores_and_outputs(tmp_path):
    root = tmp_path / "course"
    scores = demo.run(root, workers=2)
    assert scores == {"demo-solution": 100.0, "demo-untouched": 0.0, "demo-partial": 25.0}

    reports = root / "autograder" / "var" / "reports" / demo.ASSIGNMENT
    assert {line.split(",")[3] for line in (reports / "grades.csv").read_text().splitlines()[1:]} == set(scores)
    release = (root / "notebooks" / demo.ASSIGNMENT / f"{demo.ASSIGNMENT}.ipynb").read_text()
    assert not [name for name in HIDDEN_ONLY if name in release]
    for student in scores:
        feedback = root / "autograder" / "var" / "feedback" / student / demo.ASSIGNMENT / f"{demo.ASSIGNMENT}.html"
        assert feedback.is_file(), f"no feedback for {student}"
        html = feedback.read_text()
        assert "Task 1" in html
        assert not [name for name in HIDDEN_ONLY if name in html], f"{student}'s feedback reveals hidden tests"
    # Grading never modifies what students submitted.
    submitted = root / "autograder" / "var" / "submitted" / "demo-untouched" / demo.ASSIGNMENT / f"{demo.ASSIGNMENT}.ipynb"
    assert submitted.read_bytes() == (root / "notebooks" / demo.ASSIGNMENT / f"{demo.ASSIGNMENT}.ipynb").read_bytes()

    # Serial grading of the same course gives identical results (outputs, scores, flags).
    parallel = load_results(root)
    for path in (root / "autograder" / "var" / "grading" / demo.ASSIGNMENT / "results").glob("*.json"):
        path.unlink()
    grade.grade(demo.ASSIGNMENT, root=root, workers=1, quiet=True)
    assert load_results(root) == parallel


def test_kill_9_mid_run_then_rerun_grades_everyone_exactly_once(tmp_path):
    root = tmp_path / "course"
    demo.run(root, workers=1)  # three students; now add three more and grade them in a child process
    submitted = root / "autograder" / "var" / "submitted"
    for i in range(3):
        (submitted / f"late-{i}").mkdir()
        os.link(submitted / "demo-solution" / demo.ASSIGNMENT / f"{demo.ASSIGNMENT}.ipynb", tmp_path / f"s{i}")
        (submitted / f"late-{i}" / demo.ASSIGNMENT).mkdir()
        (submitted / f"late-{i}" / demo.ASSIGNMENT / f"{demo.ASSIGNMENT}.ipynb").write_bytes((tmp_path / f"s{i}").read_bytes())
    results = root / "autograder" / "var" / "grading" / demo.ASSIGNMENT / "results"
    before = set(load_results(root))
    command = [sys.executable, "-m", "autograder.grade", demo.ASSIGNMENT, "--root", str(root), "--workers", "1"]
    child = subprocess.Popen(command, cwd=REPO, env={**os.environ, "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while len(list(results.glob("late-*.json"))) < 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(child.pid, signal.SIGKILL)  # the grader, its workers and their sandboxes, at once
    child.wait()
    done_before_kill = set(load_results(root)) - before
    assert 1 <= len(done_before_kill) < 3, "the kill came too late to test resuming"

    again = grade.grade(demo.ASSIGNMENT, root=root, workers=2, quiet=True)
    assert set(again) == before | {f"late-{i}" for i in range(3)}
    assert all(again[f"late-{i}"]["score"] == 100.0 for i in range(3))
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        graded = [s.student.id for s in gradebook.assignment_submissions(demo.ASSIGNMENT)]
        assert sorted(graded) == sorted(again)  # each student exactly once
        assert gradebook.find_submission(demo.ASSIGNMENT, "late-0").score == 100.0


def test_grading_refuses_to_run_without_bubblewrap_unless_told_to(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(grade, "bwrap_path", lambda: None)
    with pytest.raises(SystemExit) as refused:
        grade.grade(demo.ASSIGNMENT, root=tmp_path, limits=Limits())
    assert "bubblewrap" in str(refused.value) and grade.UNSAFE_FLAG in str(refused.value)
