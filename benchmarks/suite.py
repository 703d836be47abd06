"""Whole-project timings, run in the snapshot of :mod:`benchmarks.book`: the autograder's rate and the test suite.

**Autograding**: submissions per minute of the secure grader (``make grade``: bubblewrap sandbox,
2 workers), on demo submissions of exercise 01 built by the autograding benchmark's own
:func:`benchmarks.autograde.make_course` (solved, untouched and half-solved, in turn). It is the
"secure grader" line of ``make bench-grade`` on fewer submissions, so that it fits in ``make bench``;
``make bench-grade`` gives the full comparison with plain nbgrader and the sandbox's overhead.

**Test suite**: wall time of ``make test`` in the snapshot, once the book there is built (``make
test`` builds it first; cached, that takes seconds). It takes longer than ``make bench`` may, so it
runs only when asked (``python -m benchmarks.run --suite``) and only on a quiet machine: pytest's
workers compete for the cores with whatever else runs, and a loaded machine's figure means little.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.book import make, snapshot_env

QUIET_LOAD = 2.5  # 1-minute load average below which the machine counts as quiet (2 cores)


def load_average() -> float:
    return os.getloadavg()[0]


def grading_rate(snapshot: Path, submissions: int, workers: int) -> dict:
    """Submissions per minute of the secure grader on ``submissions`` demo submissions, graded in the snapshot."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.suite", "grade", str(submissions), str(workers)],
                          cwd=snapshot, env=snapshot_env(snapshot), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the autograding benchmark failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def suite_seconds(snapshot: Path) -> float:
    """Wall seconds of ``make test`` in the snapshot, its book built beforehand (untimed) when it is not yet,
    so that the figure is the tests' alone and the same whether or not the book section ran first."""
    if not (snapshot / "_build" / ".jupyter_cache").is_dir():
        make(snapshot, "book", [])
    return make(snapshot, "test", [])


def _grade_here(submissions: int, workers: int) -> dict:
    """Run in the snapshot (``python -m benchmarks.suite grade N W``): grade, print one line of JSON."""
    from autograder import grade as grader
    from autograder.nbgrader_cli import REPO
    from benchmarks import autograde

    import torch  # noqa: F401  (as `make grade` does: the workers fork with torch loaded)

    root = REPO / "_build" / "bench" / "grading"
    autograde.make_course(root, submissions)
    start = time.perf_counter()
    results = grader.grade(autograde.ASSIGNMENT, root=root, workers=workers, feedback=False, quiet=True)
    seconds = time.perf_counter() - start
    if len(results) != submissions:
        raise RuntimeError(f"graded {len(results)} of {submissions} submissions")
    return {"submissions": submissions, "workers": workers, "seconds": seconds,
            "per_minute": 60 * submissions / seconds, "load_after": round(load_average(), 1)}


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "grade":
        raise SystemExit("usage (run by benchmarks.run, in the snapshot): python -m benchmarks.suite grade SUBMISSIONS WORKERS")
    print(json.dumps(_grade_here(int(sys.argv[2]), int(sys.argv[3]))))
