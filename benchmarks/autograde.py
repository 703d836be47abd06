"""`make bench-grade`: 60 demo submissions of exercise 01, graded by plain serial nbgrader and by
the secure grader (sandbox on, 2 workers); prints submissions per minute, their ratio, and the
sandbox's overhead per submission.

    python -m benchmarks.autograde [--submissions 60] [--workers 2] [--paired 60]

Each whole-pipeline run grades a fresh copy of the same course under ``_build/bench-grade/``; the
submissions cycle through the three demo kinds (solution, untouched release, task 1 only).

The sandbox's overhead is measured directly, side by side: the same submission is graded twice in
a row by the grader's own per-submission step (``grade.grade_one``), once inside bubblewrap and
once without it, alternating which goes first. On a shared machine whose load changes by the
minute, paired differences are far steadier than the difference of two long runs taken minutes
apart. The load average is printed with every figure, because the figures mean little without it.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

import nbformat

from autograder import demo
from autograder import grade as grader
from autograder.nbgrader_cli import REPO, nbgrader
from autograder.sandbox import Limits, bwrap_path

PLAIN_CONFIG = Path(__file__).with_name("plain_nbgrader_config.py")  # nbgrader's own Execute: the unsandboxed baseline

ASSIGNMENT = demo.ASSIGNMENT


def make_course(root: Path, count: int) -> None:
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, root / "solutions" / ASSIGNMENT)
    nbgrader("generate_assignment", ASSIGNMENT, "--force", root=root)
    name = f"{ASSIGNMENT}.ipynb"
    source = nbformat.read(root / "solutions" / ASSIGNMENT / name, as_version=4)
    release = nbformat.read(root / "notebooks" / ASSIGNMENT / name, as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"] for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}
    kinds = [demo.answered(release, source, answers), release, demo.answered(release, source, {demo.first_answer(source)})]
    for i in range(count):
        folder = root / "autograder" / "var" / "submitted" / f"student-{i:03d}" / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(kinds[i % 3], folder / name)


def load() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def timed(label: str, action) -> float:
    before = load()
    start = time.perf_counter()
    action()
    seconds = time.perf_counter() - start
    print(f"  {label:<46}{seconds:8.1f} s   ({before} before, {load()} after)", flush=True)
    return seconds


def paired_overhead(root: Path, count: int) -> list[float]:
    """Seconds the sandbox adds to grading one submission: with minus without bwrap, per submission."""
    bwrap = bwrap_path()
    if bwrap is None:
        raise SystemExit("bubblewrap cannot run here: the sandbox's overhead cannot be measured")
    course = grader.Course(root, ASSIGNMENT)
    course.results.mkdir(parents=True, exist_ok=True)
    students = sorted(p.name for p in course.submitted.iterdir())[:count]
    differences = []
    for i, student in enumerate(students):
        seconds = {}
        for jail in ([bwrap, None] if i % 2 == 0 else [None, bwrap]):
            start = time.perf_counter()
            grader.grade_one(course, student, "bench", Limits(), jail, slot=0)
            seconds[jail is not None] = time.perf_counter() - start
        differences.append(seconds[True] - seconds[False])
    return differences


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--paired", type=int, default=60, help="submissions graded with and without the sandbox")
    args = parser.parse_args()
    n, base = args.submissions, REPO / "_build" / "bench-grade"
    import torch  # noqa: F401  (as `make grade` does: workers fork warm)

    print(f"Grading {n} submissions of {ASSIGNMENT} on {os.cpu_count()} cores, {load()}:", flush=True)
    make_course(base / "plain", n)
    plain = timed("plain nbgrader autograde, serial",
                  lambda: nbgrader("autograde", ASSIGNMENT, "--force", root=base / "plain", config=PLAIN_CONFIG))
    make_course(base / "secure", n)
    secure = timed(f"secure grader, sandbox on, {args.workers} workers",
                   lambda: grader.grade(ASSIGNMENT, root=base / "secure", workers=args.workers, feedback=False, quiet=True))
    before = load()
    differences = paired_overhead(base / "secure", min(args.paired, n))
    print(f"  paired runs of grade_one, with and without bwrap: {len(differences)} submissions ({before} before, "
          f"{load()} after)", flush=True)
    print(f"\n  plain nbgrader:  {60 * n / plain:6.1f} submissions/min")
    print(f"  secure grader:   {60 * n / secure:6.1f} submissions/min ({args.workers} workers), "
          f"{plain / secure:.2f}x plain nbgrader's rate")
    print(f"  sandbox overhead: median {1000 * statistics.median(differences):+.0f} ms, mean "
          f"{1000 * statistics.mean(differences):+.0f} ms per submission (with minus without bwrap, same submission, "
          f"interquartile range {1000 * statistics.quantiles(differences, n=4)[0]:+.0f} to "
          f"{1000 * statistics.quantiles(differences, n=4)[2]:+.0f} ms)")


if __name__ == "__main__":
    main()
