"""`make bench-grade`: 60 demo submissions of exercise 01, graded by plain serial nbgrader and by
the secure grader (sandbox on, 2 workers); prints submissions per minute, their ratio, and the
sandbox's overhead per submission (the same grader with and without bubblewrap, 1 worker).

    python -m benchmarks.autograde [--submissions 60] [--workers 2]

Each run grades a fresh copy of the same course under ``_build/bench-grade/``; the submissions
cycle through the three demo kinds (solution, untouched release, task 1 only).
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import nbformat

from autograder import demo
from autograder.grade import grade
from autograder.nbgrader_cli import REPO, nbgrader
from autograder.sandbox import Limits

ASSIGNMENT = demo.ASSIGNMENT


def make_course(root: Path, count: int) -> None:
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, root / "solutions" / ASSIGNMENT)
    nbgrader("generate_assignment", ASSIGNMENT, "--force", root=root)
    name = f"{ASSIGNMENT}.ipynb"
    source = nbformat.read(root / "solutions" / ASSIGNMENT / name, as_version=4)
    release = nbformat.read(root / "notebooks" / ASSIGNMENT / name, as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"] for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}
    kinds = [demo.answered(release, source, answers), release, demo.answered(release, source, {"log_softmax"})]
    for i in range(count):
        folder = root / "autograder" / "var" / "submitted" / f"student-{i:03d}" / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(kinds[i % 3], folder / name)


def timed(label: str, action) -> float:
    start = time.perf_counter()
    action()
    seconds = time.perf_counter() - start
    print(f"  {label:<46}{seconds:8.1f} s")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    n, base = args.submissions, REPO / "_build" / "bench-grade"
    import torch  # noqa: F401  (as `make grade` does: workers fork warm)

    print(f"Grading {n} submissions of {ASSIGNMENT}:")
    make_course(base / "plain", n)
    plain = timed("plain nbgrader autograde, serial", lambda: nbgrader("autograde", ASSIGNMENT, "--force", root=base / "plain"))
    make_course(base / "secure", n)
    secure = timed(f"secure grader, sandbox on, {args.workers} workers",
                   lambda: grade(ASSIGNMENT, root=base / "secure", workers=args.workers, feedback=False, quiet=True))
    make_course(base / "jail", n)
    jailed = timed("secure grader, sandbox on, 1 worker",
                   lambda: grade(ASSIGNMENT, root=base / "jail", workers=1, limits=Limits(), feedback=False, quiet=True))
    make_course(base / "nojail", n)
    unjailed = timed("secure grader, sandbox OFF, 1 worker",
                     lambda: grade(ASSIGNMENT, root=base / "nojail", workers=1, sandbox=False, feedback=False, quiet=True))
    print(f"\n  plain nbgrader:  {60 * n / plain:6.1f} submissions/min")
    print(f"  secure grader:   {60 * n / secure:6.1f} submissions/min ({args.workers} workers)  "
          f"ratio {plain / secure:.2f}x")
    print(f"  sandbox overhead: {1000 * (jailed - unjailed) / n:+.0f} ms per submission (1 worker, with - without bwrap)")


if __name__ == "__main__":
    main()
