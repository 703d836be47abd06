"""`make grade`: grade every submission of an exercise safely, in parallel, and report.

    python -m autograder.grade [ASSIGNMENT ...] [--workers N] [--root COURSE] [--unsafe-no-sandbox]

The pipeline, for each exercise (default: every exercise with a folder in ``submitted/``):

1. read each ``autograder/var/submitted/<student>/<id>/<id>.ipynb`` (never modified); a
   malformed one is reported with its reason and the others go on;
2. rebuild it on the release's skeleton (``submission.normalize``), flagging structural tampering;
3. grade all of them in parallel, one fresh process each: the student's cells run in a bubblewrap
   sandbox and the instructor's original tests in a trusted process (``trusted.py``). Each result
   is written atomically to ``autograder/var/grading/<id>/results/<student>.json``, keyed by the
   hash of the submission, the exercise and the grader: a re-run (after ``kill -9``, say) grades
   only what is missing, and gives identical results;
4. ``nbgrader autograde`` then runs serially, as the gradebook's only writer, with the cached
   outputs in place of execution; then ``generate_feedback`` (hidden tests' code removed);
5. ``autograder/var/reports/<id>/``: ``scores.csv``, ``flags.csv``, one ``<student>.txt`` per
   student, nbgrader's ``grades.csv``, and ``report.html``, the instructor's page of the exercise
   (``report.py``: score distribution, pass rate per task, anonymous failure messages, flagged and
   ungradable submissions); a summary table is printed, with the page's path.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import ctypes
import dataclasses
import hashlib
import json
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import nbformat
from filelock import FileLock

from autograder import report
from autograder import submission as sub
from autograder.nbgrader_cli import REPO, nbgrader
from autograder.sandbox import Limits, bwrap_path, student_site

GRADER_VERSION = "3"  # part of every cache key: bump it when a change to the grader changes results
VAR = Path("autograder") / "var"
UNSAFE_FLAG = "--unsafe-no-sandbox"


@dataclasses.dataclass
class Course:
    root: Path
    assignment: str
    db_url: str | None = None

    @property
    def submitted(self) -> Path:
        return self.root / VAR / "submitted"

    @property
    def grading(self) -> Path:
        return self.root / VAR / "grading" / self.assignment

    @property
    def results(self) -> Path:
        return self.grading / "results"

    @property
    def reports(self) -> Path:
        return self.root / VAR / "reports" / self.assignment

    @property
    def source(self) -> Path:
        return self.root / "solutions" / self.assignment / f"{self.assignment}.ipynb"

    @property
    def release(self) -> Path:
        return self.root / "notebooks" / self.assignment / f"{self.assignment}.ipynb"


# -- one submission, in a forked child ---------------------------------------------------------
def _die_with_parent() -> None:
    """If the grader is killed (kill -9 included), its workers and their sandboxes go too."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # a reader sees the old file or the whole new one, never half


def grade_one(course: Course, student: str, key: str, limits: Limits, bwrap: str | None, slot: int,
              site: Path | None = None) -> None:
    """Grade one student's submission and write its result file (the child process's whole job)."""
    folder = course.submitted / student / course.assignment
    result: dict = {"student": student, "key": key}
    scratch = course.grading / "scratch" / student
    try:
        files, folder_flags = sub.submitted_files(folder, course.submitted)
        notebook, _ = sub.read_submission(folder, course.assignment)
        source = nbformat.read(course.source, as_version=4)
        release = nbformat.read(course.release, as_version=4) if course.release.is_file() else sub.release_of(source)
        normalized, flags = sub.normalize(notebook, release)
        flags += folder_flags
        shutil.rmtree(scratch, ignore_errors=True)
        # The sandbox's only writable folder: a copy of the submission's regular files (links and
        # special files are never followed), so that the submission itself is never modified.
        sub.copy_files(folder, files, scratch)
        graded = __import__("autograder.trusted", fromlist=["grade"]).grade(source, normalized, scratch, limits, bwrap, slot,
                                                                          site=site)
        result.update(status="graded", cell_count=len(normalized.cells), notebook=normalized, **graded)
        result["flags"] = sorted(set(flags) | set(graded["flags"]))
    except sub.Malformed as exc:
        result.update(status="malformed", reason=str(exc), score=0.0, flags=[])
    except Exception as exc:  # a bug of the grader's: report it, and retry on the next run (no cache)
        result.update(status="error", key=f"error:{key}", reason=f"the grader failed: {type(exc).__name__}: {exc}",
                      score=0.0, flags=[])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    write_atomically(course.results / f"{student}.json", json.dumps(result, sort_keys=True, default=_json_default))


def _json_default(value):
    if isinstance(value, nbformat.NotebookNode):
        return dict(value)
    raise TypeError(f"cannot store {type(value).__name__} in a result")


def cache_key(course: Course, student: str, limits: Limits, sandboxed: bool) -> str:
    digest = hashlib.sha256()
    folder = course.submitted / student / course.assignment
    try:
        files, refused = sub.submitted_files(folder, course.submitted)
    except sub.Malformed as exc:
        files, refused = [], [str(exc)]
    for relative in files:  # regular files only: a link or a FIFO is never opened
        path = folder / relative
        digest.update(str(relative).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest() if path.lstat().st_size <= sub.MAX_NOTEBOOK_BYTES * 4
                      else str(path.lstat().st_size).encode())
    digest.update("\n".join(refused).encode())
    digest.update(course.source.read_bytes())
    if course.release.is_file():
        digest.update(course.release.read_bytes())
    digest.update(f"{GRADER_VERSION}|{dataclasses.astuple(limits)}|{sandboxed}".encode())
    return digest.hexdigest()


def cached(course: Course, student: str, key: str) -> dict | None:
    path = course.results / f"{student}.json"
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return result if result.get("key") == key else None


def run_parallel(course: Course, jobs: list[tuple[str, str]], limits: Limits, bwrap: str | None, workers: int,
                 site: Path | None = None) -> None:
    """Grade ``jobs`` ((student, key) pairs) on ``workers`` forked processes, one per submission."""
    context = multiprocessing.get_context("fork")
    pending = list(jobs)
    running: dict[int, tuple[multiprocessing.Process, str, str, int, float]] = {}  # sentinel -> ...
    free_slots = list(range(workers))
    hard_limit = limits.notebook_timeout + 120  # a worker past this is stuck outside the sandbox: kill it

    def child(student: str, key: str, slot: int) -> None:
        _die_with_parent()
        grade_one(course, student, key, limits, bwrap, slot, site)

    while pending or running:
        while pending and free_slots:
            student, key = pending.pop(0)
            slot = free_slots.pop(0)
            process = context.Process(target=child, args=(student, key, slot), name=f"grade-{student}")
            process.start()
            running[process.sentinel] = (process, student, key, slot, time.monotonic())
        ready = multiprocessing.connection.wait(list(running), timeout=5)
        now = time.monotonic()
        for sentinel in list(running):
            process, student, key, slot, started = running[sentinel]
            if sentinel not in ready and now - started < hard_limit:
                continue
            if process.is_alive():
                process.kill()
            process.join()
            del running[sentinel]
            free_slots.append(slot)
            if cached(course, student, key) is None:
                reason = (f"the grader's worker for this submission ended with exit code {process.exitcode} "
                          "without a result")
                write_atomically(course.results / f"{student}.json", json.dumps(
                    {"student": student, "key": f"error:{key}", "status": "error", "reason": reason,
                     "score": 0.0, "flags": []}, sort_keys=True))


# -- the serial nbgrader step ------------------------------------------------------------------
def grading_args(course: Course) -> list[str]:
    """nbgrader's settings for this run, on its command line: the normalized notebooks, and the
    sandbox's recorded outputs in place of execution (autograder/preprocessors.py). nbgrader
    loads a course folder's own ``nbgrader_config.py`` after every other file (the hub's loads
    the course's, with the raw submissions and no results); only the command line wins over it."""
    return [f"--CourseDirectory.submitted_directory={course.grading / 'staged'}",
            f"--FillOutputsFromCache.results_dir={course.results}"]


# What `nbgrader collect` writes beside a notebook: the submission's time (late penalties, and
# Formgrader's "graded" state) and the secret that names its feedback in the exchange.
NBGRADER_FILES = ("timestamp.txt", "submission_secret.txt")


def stage(course: Course, results: dict[str, dict]) -> None:
    """The normalized notebooks, with nbgrader's files of the submission (``NBGRADER_FILES``), where
    nbgrader will read them; their student-written markdown is defused (``submission.defuse_markdown``).

    A submission's other files stay out: nbgrader's step runs nothing that could need them (the
    sandbox ran the notebook beside them), and nbgrader would copy them into ``autograded/``, whose
    files Formgrader serves from the instructor's server, where a student's ``page.html`` would run
    its script with the instructor's session."""
    staged = course.grading / "staged"
    shutil.rmtree(staged, ignore_errors=True)
    for student, result in results.items():
        if result["status"] != "graded":
            continue
        folder = staged / student / course.assignment
        original = course.submitted / student / course.assignment
        files, _ = sub.submitted_files(original, course.submitted)  # graded, so it passed this check moments ago
        sub.copy_files(original, [f for f in files if str(f) in NBGRADER_FILES], folder)
        notebook = sub.defuse_markdown(nbformat.from_dict(result["notebook"]))
        nbformat.write(notebook, folder / f"{course.assignment}.ipynb")


def ensure_in_gradebook(course: Course) -> None:
    from nbgrader.api import Course as CourseRow
    from nbgrader.api import Gradebook, MissingEntry

    # nbgrader's Gradebook runs the environment's `alembic` by name: find it without `.venv/bin` on PATH.
    tools = str(Path(sys.executable).parent)
    if tools not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join(filter(None, [tools, os.environ.get("PATH")]))

    db_url = course.db_url or (f"sqlite:///{course.root / 'gradebook.db'}" if course.root != REPO
                               else f"sqlite:///{REPO / VAR / 'gradebook.db'}")
    with Gradebook(db_url) as gradebook:
        # nbgrader files every assignment under the course id ('' unless configured), but creates
        # the row of the course '' nowhere. SQLite does not check that foreign key; PostgreSQL
        # refuses the assignment without it.
        if gradebook.db.get(CourseRow, "") is None:
            gradebook.db.add(CourseRow(id=""))
            gradebook.db.commit()
        try:
            gradebook.find_assignment(course.assignment)
            return
        except MissingEntry:
            pass
    # Records the exercise and its hidden tests (and regenerates its release, identical when committed).
    nbgrader("generate_assignment", course.assignment, "--force", root=course.root, db_url=course.db_url)


# -- the whole pipeline ------------------------------------------------------------------------
def grade(assignment: str, root: Path = REPO, workers: int | None = None, limits: Limits = Limits(),
          sandbox: bool = True, db_url: str | None = None, feedback: bool = True, quiet: bool = False) -> dict[str, dict]:
    """Grade every submission of ``assignment`` in the course at ``root``; returns ``{student: result}``."""
    course = Course(Path(root).resolve(), assignment, db_url)  # the sandbox binds folders by absolute path
    bwrap = bwrap_path() if sandbox else None
    if sandbox and bwrap is None:
        sys.exit("bubblewrap (`bwrap`) is not available here, and grading runs student code: install it "
                 "(Debian: apt-get install bubblewrap) or, on a machine you can afford to lose, pass "
                 f"{UNSAFE_FLAG} to run submissions WITHOUT a sandbox.")
    if not course.source.is_file():
        sys.exit(f"no exercise {assignment!r}: {course.source} does not exist")
    (course.root / VAR).mkdir(parents=True, exist_ok=True)
    course.results.mkdir(parents=True, exist_ok=True)
    course.reports.mkdir(parents=True, exist_ok=True)
    workers = workers or os.cpu_count() or 1
    started = time.monotonic()
    # The hidden tests import torch. Imported once here, it is warm in every forked worker; imported
    # in a test cell, its seconds would count against the student's time limit.
    with contextlib.suppress(ImportError):
        import torch  # noqa: F401
    with FileLock(str(course.grading / "grading.lock")):
        # A student's folder that is a link is listed too: grade_one reports it as malformed.
        students = sorted(p.name for p in course.submitted.iterdir()
                          if (p / assignment).is_dir() or (p / assignment).is_symlink()) if course.submitted.is_dir() else []
        keys = {s: cache_key(course, s, limits, bwrap is not None) for s in students}
        jobs = [(s, keys[s]) for s in students if cached(course, s, keys[s]) is None]
        site = student_site(course.grading / "site") if jobs else None
        run_parallel(course, jobs, limits, bwrap, workers, site)
        results = {s: json.loads((course.results / f"{s}.json").read_text()) for s in students}
        for stale in set(p.stem for p in course.results.glob("*.json")) - set(students):
            (course.results / f"{stale}.json").unlink()  # a submission withdrawn since the last run
        stage(course, results)
        if any(r["status"] == "graded" for r in results.values()):
            ensure_in_gradebook(course)
            nbgrader("autograde", assignment, "--force", *grading_args(course), root=course.root, db_url=db_url)
            if feedback:
                nbgrader("generate_feedback", assignment, "--force", root=course.root, db_url=db_url)
            nbgrader("export", f"--CsvExportPlugin.to={course.reports / 'grades.csv'}",
                     f"--ExportPlugin.assignment={assignment}", root=course.root, db_url=db_url)
        write_reports(course, results)
    if not quiet:
        print_summary(course, results, len(jobs), time.monotonic() - started)
    return results


def write_reports(course: Course, results: dict[str, dict]) -> None:
    with open(course.reports / "scores.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["student_id", "assignment", "status", "score", "max_score", "flags", "reason"])
        for student, r in sorted(results.items()):
            out.writerow([student, course.assignment, r["status"], f"{r.get('score', 0.0):g}",
                          f"{r.get('max_score', 0.0):g}", len(r.get("flags", [])), r.get("reason", "")])
    with open(course.reports / "flags.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["student_id", "assignment", "flag"])
        for student, r in sorted(results.items()):
            for flag in r.get("flags", []):
                out.writerow([student, course.assignment, flag])
    students = course.reports / "students"
    shutil.rmtree(students, ignore_errors=True)
    students.mkdir()
    for student, r in sorted(results.items()):
        lines = [f"student: {student}", f"exercise: {course.assignment}", f"status: {r['status']}"]
        if r["status"] == "graded":
            lines.append(f"score: {r['score']:g} of {r['max_score']:g}")
            lines += [f"  {gid}: {'passed' if t['passed'] else 'failed'} ({t['points']:g}/{t['max_points']:g})"
                      for gid, t in r["tests"].items()]
        else:
            lines.append(f"not graded: {r.get('reason')}")
        lines.append(f"flags: {len(r.get('flags', []))}")
        lines += [f"  - {flag}" for flag in r.get("flags", [])]
        (students / f"{student}.txt").write_text("\n".join(lines) + "\n")
    report.write_report(course.reports, course.assignment, results, course.source, course.root)


def print_summary(course: Course, results: dict[str, dict], graded_now: int, seconds: float) -> None:
    print(f"Exercise {course.assignment}: {len(results)} submissions, {graded_now} graded now "
          f"(the rest from the cache), in {seconds:.1f} s")
    print(f"  {'student':<20}{'status':<11}{'score':>7}{'of':>5}  flags")
    for student, r in sorted(results.items()):
        flags = r.get("flags", [])
        detail = r.get("reason", "") if r["status"] != "graded" else "; ".join(f.split(":")[0] for f in flags)
        print(f"  {student:<20}{r['status']:<11}{r.get('score', 0.0):>7.1f}{r.get('max_score', 0.0):>5.0f}  {detail}")
    print(f"  reports in {course.reports}")
    print(f"  report page: {course.reports / 'report.html'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m autograder.grade", description=__doc__.split("\n")[0])
    parser.add_argument("assignments", nargs="*", help="exercise ids (default: every one with submissions)")
    parser.add_argument("--root", type=Path, default=REPO, help="the course directory (default: this repository)")
    parser.add_argument("--workers", type=int, default=None, help="parallel graders (default: one per core)")
    parser.add_argument("--db-url", default=None, help="gradebook URL, e.g. postgresql://host/db (default: SQLite)")
    parser.add_argument("--cell-timeout", type=float, default=Limits.cell_timeout)
    parser.add_argument("--notebook-timeout", type=float, default=Limits.notebook_timeout)
    parser.add_argument("--memory-mib", type=int, default=Limits.memory_bytes // 2**20)
    parser.add_argument(UNSAFE_FLAG, dest="unsafe", action="store_true",
                        help="run student code WITHOUT the bubblewrap sandbox (only where bwrap cannot run)")
    args = parser.parse_args(argv)
    limits = Limits(cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout,
                    memory_bytes=args.memory_mib * 2**20)
    submitted = args.root / VAR / "submitted"
    assignments = args.assignments or sorted({p.name for p in submitted.glob("*/*") if p.is_dir()})
    if not assignments:
        sys.exit(f"nothing to grade: no submissions in {submitted}/<student>/<exercise>/")
    if args.unsafe:
        print("WARNING: grading WITHOUT a sandbox: student code can read and change everything you can.",
              file=sys.stderr)
    for assignment in assignments:
        grade(assignment, root=args.root, workers=args.workers, limits=limits, sandbox=not args.unsafe,
              db_url=args.db_url)


if __name__ == "__main__":
    main()
