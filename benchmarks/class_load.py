"""A class-sized grading load (issue 21, point 4): 300 submissions over three exercises, a tenth of
them adversarial, graded by the secure grader; plain serial nbgrader on the honest ones beside it;
then a ``kill -9`` of the grader in the middle of the same load and a re-run.

    python -m benchmarks.class_load [--submissions 300] [--adversarial 0.1] [--workers 2] [--root DIR]

What it builds (``build_load``), under ``_build/bench-class/`` by default:

- three exercises, 01, 02 and 03: the ones with a red-team file in ``tests/redteam/``, whose
  solutions grade in about a second per task; every student submits all three;
- honest submissions cycling through the red team's baselines, solved / untouched / partially
  solved (``solution``, ``untouched``, ``partial``: exactly what ``autograder/demo.py`` builds),
  expected to score 100, 0 and the first task's points;
- ``--adversarial`` of them (a tenth) drawn from the red team's submissions of the same exercise:
  time-outs, memory bombs, tampering with the tests or the checks, ``exit`` calls, hunting for the
  instructor's files, and malformed files (invalid JSON, nbformat 3, wrong or missing notebook,
  an enormous file). Each exercise's list (``ADVERSARIAL``) gives every kind that its red-team file
  has at least once; the malformed files of exercise 01's red team are built for 02 and 03 too;
- ``manifest.json``: for every submission, what it is and the outcome it must get (the red team's:
  status, score, and a word that a flag or the reason must contain, or no flag at all).

What it measures (``run``):

1. plain ``nbgrader autograde``, serial, exercise after exercise, on a course holding only the
   honest submissions (it has no sandbox: the adversarial ones would run with the instructor's
   rights), its wall time and submissions per minute;
2. the secure grader (``autograder.grade``, bubblewrap sandbox, 2 workers, feedback left out) on
   all the submissions, in a child process (``python -m benchmarks.class_load grade``), with the
   red team's limits (10 s per cell, 120 s per notebook). Every manifest entry is checked: a result
   with the expected status, score and flag, nothing lost, no grader error. Its peak memory is
   sampled from ``/proc`` (see ``TreeSampler``);
3. the same load in a fresh course, graded by the same child process, killed with ``kill -9`` (its
   whole process group: the grader, its workers, their sandboxes) once half the results exist;
   then graded again to the end. Its final results must equal step 2's, submission by submission.

The throughput ratio is the secure grader's submissions per minute, adversarial ones included
(their time-outs cost it up to ten seconds each), over plain nbgrader's on the honest ones only:
a conservative figure for the secure grader.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat

from autograder.nbgrader_cli import REPO, nbgrader
from autograder.sandbox import Limits

PLAIN_CONFIG = Path(__file__).with_name("plain_nbgrader_config.py")  # nbgrader's own Execute: the unsandboxed baseline

EXERCISES = ("01_softmax_ce_kl", "02_rnn", "03_gradient_flow")
REDTEAM = REPO / "tests" / "redteam"
LIMITS = Limits(cell_timeout=10, notebook_timeout=120)  # the red team's, under which its outcomes hold
HONEST = ("solution", "untouched", "partial")
MALFORMED = ("invalid-json", "wrong-file-name", "nbformat-3", "missing-notebook")  # from 01's red team
# Each exercise's adversarial submissions, in the order a smaller load takes them: one of each kind
# first. The kind is what the manifest and the report call it.
ADVERSARIAL = {
    "01_softmax_ce_kl": [("invalid-json", "malformed"), ("patch-numpy-testing", "tampering"),
                         ("infinite-loop-in-function", "time-out"), ("memory-bomb", "memory bomb"),
                         ("delete-test-cells-solved", "tampering"), ("wrong-file-name", "malformed"),
                         ("edit-test-cell", "tampering"), ("sys-exit-before-tests", "exit"),
                         ("nbformat-3", "malformed"), ("enormous", "malformed")],
    "02_rnn": [("markov-wrong-and-patches-the-checks", "tampering"), ("invalid-json", "malformed"),
               ("bptt-loops-forever-on-hidden-inputs", "time-out"), ("edit-locked-forward", "tampering"),
               ("bptt-os-exit-others-still-graded", "exit"), ("wrong-file-name", "malformed"),
               ("hunt-for-hidden-tests", "escape"), ("birnn-returns-a-generator", "odd answer"),
               ("nbformat-3", "malformed"), ("missing-notebook", "malformed")],
    "03_gradient_flow": [("broken-unit-norms-patches-substitute", "tampering"), ("invalid-json", "malformed"),
                         ("jacobian-loops-forever-for-relu", "time-out"), ("jacobian-memory-bomb", "memory bomb"),
                         ("clip-returns-a-tensor", "tampering"), ("wrong-file-name", "malformed"),
                         ("clip-rebinds-list-items", "odd answer"), ("clip-scales-then-raises", "odd answer"),
                         ("nbformat-3", "malformed"), ("missing-notebook", "malformed")],
}


KERNEL_DIED = re.compile(r"There was an error processing assignment: \S*/submitted/([^/\s]+)/")


def plain_autograde(exercise: str, course: Path, retries: int = 2) -> None:
    """Plain ``nbgrader autograde`` of ``exercise``. A submission whose kernel died at start (its TCP
    port, chosen free, taken before the kernel bound it: "Address already in use", with tests
    running beside the benchmark) is graded again, alone, up to ``retries`` times; the time of the
    failed try counts, against plain nbgrader."""
    done = nbgrader("autograde", exercise, "--force", root=course, config=PLAIN_CONFIG, check=False)
    for _ in range(retries):
        said = done.stdout + done.stderr
        if done.returncode == 0 or "Kernel died before replying" not in said:
            break
        for student in sorted(set(KERNEL_DIED.findall(said))):
            done = nbgrader("autograde", exercise, "--force", f"--student={student}", root=course,
                            config=PLAIN_CONFIG, check=False)
    if done.returncode != 0:
        sys.exit(f"plain nbgrader autograde of {exercise} failed (exit {done.returncode}):\n"
                 f"{(done.stdout + done.stderr)[-4000:]}")


def load_redteam(assignment: str) -> dict:
    """``SUBMISSIONS`` of ``tests/redteam/<assignment>.py`` (as ``tests/test_autograder_redteam.py`` loads it)."""
    namespace: dict = {}
    for path in (REDTEAM / "_notebooks.py", REDTEAM / f"{assignment}.py"):
        exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace["SUBMISSIONS"]


def catalogue() -> dict[str, dict]:
    """``{exercise: {name: (build, expected)}}``: each exercise's red team, plus 01's malformed files for all."""
    first = load_redteam(EXERCISES[0])
    out = {}
    for exercise in EXERCISES:
        submissions = dict(load_redteam(exercise))
        for name in MALFORMED:
            if name not in submissions:
                build, expected = first[name]

                def renamed(r, s, build=build, exercise=exercise):
                    files = build(r, s)
                    return {(f"{exercise}.ipynb" if key == f"{EXERCISES[0]}.ipynb" else key): data
                            for key, data in files.items()}
                submissions[name] = (renamed, expected)
        out[exercise] = submissions
    return out


def plan(submissions: int, adversarial: float) -> list[dict]:
    """The manifest's entries, without the expected outcomes: who submits what for which exercise."""
    students = -(-submissions // len(EXERCISES))
    entries = [{"student": f"student-{i:03d}", "exercise": exercise}
               for i in range(students) for exercise in EXERCISES][:submissions]
    wanted = round(adversarial * submissions)
    by_exercise = {exercise: [e for e in entries if e["exercise"] == exercise] for exercise in EXERCISES}
    share = {exercise: wanted // len(EXERCISES) + (k < wanted % len(EXERCISES)) for k, exercise in enumerate(EXERCISES)}
    for exercise, rows in by_exercise.items():
        count = min(share[exercise], len(rows), len(ADVERSARIAL[exercise]))
        picks = {round((k + 0.5) * len(rows) / count - 0.5) for k in range(count)} if count else set()
        adversarial_names = iter(ADVERSARIAL[exercise])
        honest = 0
        for index, entry in enumerate(rows):
            if index in picks:
                entry["name"], entry["kind"] = next(adversarial_names)
            else:
                entry["name"] = entry["kind"] = HONEST[(honest + EXERCISES.index(exercise)) % len(HONEST)]
                honest += 1
    return entries


def template(root: Path) -> Path:
    """``root/template``: a course with the three exercises released (solutions, release, gradebook),
    made once per run and copied for each course, so that nbgrader's release step runs three times, not nine."""
    course = root / "template"
    shutil.rmtree(course, ignore_errors=True)
    for exercise in EXERCISES:
        shutil.copytree(REPO / "solutions" / exercise, course / "solutions" / exercise)
        nbgrader("generate_assignment", exercise, "--force", root=course)
    return course


def build_course(root: Path, entries: list[dict], honest_only: bool = False, released: Path | None = None) -> list[dict]:
    """A fresh course at ``root`` holding ``entries``' submissions; writes and returns the manifest.

    ``released``: a ``template`` course to copy (else one is made beside ``root``)."""
    released = released or template(root.parent)
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(released, root)
    known = catalogue()
    manifest = []
    for exercise in EXERCISES:
        rows = [e for e in entries if e["exercise"] == exercise and (not honest_only or e["name"] in HONEST)]
        name = f"{exercise}.ipynb"
        release_nb = nbformat.read(root / "notebooks" / exercise / name, as_version=4)
        source = nbformat.read(root / "solutions" / exercise / name, as_version=4)
        built: dict[str, dict[str, bytes]] = {}
        for entry in rows:
            build, expected = known[exercise][entry["name"]]
            if entry["name"] not in built:
                built[entry["name"]] = build(release_nb, source)
            folder = root / "autograder" / "var" / "submitted" / entry["student"] / exercise
            folder.mkdir(parents=True)
            for file_name, data in built[entry["name"]].items():
                (folder / file_name).write_bytes(data)
            manifest.append({**entry, "expected": expected})
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


# -- the secure grader, in a child process -------------------------------------------------------
def grade_course(root: Path, workers: int) -> None:
    """What the child process runs (``python -m benchmarks.class_load grade ROOT WORKERS``)."""
    from autograder import grade as grader

    import torch  # noqa: F401  (as `make grade` does: the workers fork with torch loaded)

    exercises = sorted({p.name for p in (root / grader.VAR / "submitted").glob("*/*")})
    for exercise in exercises:
        grader.grade(exercise, root=root, workers=workers, limits=LIMITS, feedback=False, quiet=True)
    own, children = (resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    print(json.dumps({"maxrss_self_kib": own, "maxrss_children_kib": children}))  # kilobytes on Linux


def grader_command(root: Path, workers: int) -> list[str]:
    return [sys.executable, "-m", "benchmarks.class_load", "grade", str(root), str(workers)]


def child_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


class TreeSampler(threading.Thread):
    """Peak memory of a process and all its descendants, sampled from ``/proc`` every ``period`` s.

    Why sampling: ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is the largest SINGLE descendant's peak,
    not the sum of the grader, its two workers and their sandboxes running at once. Each sample
    sums, over the tree, the proportional set size (``Pss`` of ``/proc/<pid>/smaps_rollup``: a page
    shared by n processes counts 1/n in each, so the sum is what the tree takes from the machine;
    the forked workers share torch's pages with the grader) and the resident set size (``VmRSS``,
    which counts shared pages once per process: an upper bound). A process whose ``smaps_rollup``
    cannot be read (another user's, a sandbox's setuid helper) counts with its RSS in both sums.
    A peak shorter than the period can be missed.
    """

    def __init__(self, pid: int, period: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.peak_pss = self.peak_rss = 0
        self.peak_processes = 0
        self.samples = 0
        self._done = threading.Event()

    def tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
        found, pending = [], [self.pid]
        while pending:
            pid = pending.pop()
            found.append(pid)
            pending += children.get(pid, [])
        return found

    @staticmethod
    def memory(pid: int) -> tuple[int, int]:
        """(PSS, RSS) of ``pid`` in bytes; (0, 0) once it is gone."""
        rss = pss = None
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1]) * 1024
                        break
        except OSError:
            return 0, 0
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss = int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
        rss = rss or 0
        return (rss if pss is None else pss), rss

    def run(self) -> None:
        while not self._done.is_set():
            pids = self.tree()
            sizes = [self.memory(pid) for pid in pids]
            self.peak_pss = max(self.peak_pss, sum(p for p, _ in sizes))
            self.peak_rss = max(self.peak_rss, sum(r for _, r in sizes))
            self.peak_processes = max(self.peak_processes, len(pids))
            self.samples += 1
            self._done.wait(self.period)

    def stop(self) -> None:
        self._done.set()
        self.join()


def results_of(root: Path) -> dict[tuple[str, str], dict]:
    """``{(exercise, student): result}`` from the grader's result files (the notebook left out)."""
    out = {}
    for path in sorted((root / "autograder" / "var" / "grading").glob("*/results/*.json")):
        result = json.loads(path.read_text())
        result.pop("notebook", None)
        out[(path.parent.parent.name, path.stem)] = result
    return out


def outcome(result: dict, root: Path) -> str:
    """What must agree between two runs: status, score and flags, or the reason it was not graded
    (the course's folder, which a reason may name, written as ``<root>``)."""
    kept = {key: result.get(key) for key in ("status", "score", "max_score", "flags", "reason")}
    return json.dumps(kept, sort_keys=True).replace(str(root), "<root>")


def check(manifest: list[dict], root: Path) -> dict:
    """Every manifest entry against its result and the exercise's scores.csv; returns the tallies and problems."""
    import csv

    results = results_of(root)
    rows = {}
    for path in (root / "autograder" / "var" / "reports").glob("*/scores.csv"):
        with open(path, newline="") as f:
            rows.update({(path.parent.name, row["student_id"]): row for row in csv.DictReader(f)})
    problems, lost = [], 0
    as_expected = {"honest": 0, "adversarial": 0}
    for entry in manifest:
        key = (entry["exercise"], entry["student"])
        where = f"{entry['exercise']}/{entry['student']} ({entry['name']})"
        expected, result = entry["expected"], results.get(key)
        if result is None or key not in rows:
            lost += 1
            problems.append(f"{where}: lost (no result file or no row in scores.csv)")
            continue
        wrong = outcome_problem(expected, result)
        if wrong:
            problems.append(f"{where}: {wrong}")
        else:
            as_expected["honest" if entry["name"] in HONEST else "adversarial"] += 1
    errors = [k for k, r in results.items() if r["status"] == "error"]
    problems += [f"{e}/{s}: grader error: {results[(e, s)].get('reason')}" for e, s in errors]
    return {"results": len(results), "lost": lost, "honest_as_expected": as_expected["honest"],
            "adversarial_as_expected": as_expected["adversarial"], "problems": problems}


def outcome_problem(expected: dict, result: dict) -> str | None:
    """What is wrong with ``result`` against the manifest's ``expected`` (the red team's rule), or None."""
    if result["status"] != expected["status"]:
        return f"status {result['status']!r}, expected {expected['status']!r}: {result.get('reason')}"
    if expected["status"] == "malformed":
        reason = result.get("reason", "")
        return None if expected["flag"] in reason else f"reason {reason!r} lacks {expected['flag']!r}"
    if result["score"] != expected["score"]:
        return f"score {result['score']}, expected {expected['score']}; flags {result['flags']}"
    if expected["flag"] is None:
        return f"unexpected flags {result['flags']}" if result["flags"] else None
    if not any(expected["flag"] in flag for flag in result["flags"]):
        return f"no flag containing {expected['flag']!r}: {result['flags']}"
    return None


def load() -> float:
    return round(os.getloadavg()[0], 1)


def run(submissions: int = 300, adversarial: float = 0.1, workers: int = 2, root: Path | None = None,
        kill: bool = True, log=print) -> dict:
    """The whole benchmark; returns a JSON-ready dict (``benchmarks/run.py`` stores it)."""
    root = Path(root or REPO / "_build" / "bench-class")
    entries = plan(submissions, adversarial)
    honest_count = sum(e["name"] in HONEST for e in entries)
    if not honest_count:
        raise ValueError("the load needs honest submissions: plain nbgrader grades those alone")
    kinds = sorted({e["kind"] for e in entries if e["name"] not in HONEST})
    log(f"  load: {len(entries)} submissions over {', '.join(EXERCISES)}, {len(entries) - honest_count} adversarial "
        f"({', '.join(kinds) or 'none'}), {honest_count} honest", flush=True)
    out: dict = {"submissions": len(entries), "honest": honest_count, "adversarial": len(entries) - honest_count,
                 "adversarial_kinds": kinds, "exercises": list(EXERCISES), "workers": workers,
                 "limits": {"cell_timeout": LIMITS.cell_timeout, "notebook_timeout": LIMITS.notebook_timeout}}

    # 1. Plain serial nbgrader, honest submissions only.
    released = template(root)
    build_course(root / "plain", entries, honest_only=True, released=released)
    before, start = load(), time.perf_counter()
    for exercise in EXERCISES:
        if any((root / "plain" / "autograder" / "var" / "submitted").glob(f"*/{exercise}")):
            plain_autograde(exercise, root / "plain")
    plain = time.perf_counter() - start
    out["plain"] = {"seconds": plain, "per_minute": 60 * honest_count / plain, "load_before": before, "load_after": load()}
    log(f"  plain nbgrader autograde, serial, {honest_count} honest: {plain:.1f} s, "
        f"{out['plain']['per_minute']:.1f} submissions/min (load {before} -> {load()})", flush=True)

    # 2. The secure grader on everything, uninterrupted, its memory sampled.
    manifest = build_course(root / "secure", entries, released=released)
    before, start = load(), time.perf_counter()
    child = subprocess.Popen(grader_command(root / "secure", workers), cwd=REPO, env=child_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = TreeSampler(child.pid)
    sampler.start()
    output, _ = child.communicate()
    sampler.stop()
    secure = time.perf_counter() - start
    if child.returncode != 0:
        raise RuntimeError(f"the secure grader failed (exit {child.returncode}):\n{output[-3000:]}")
    rusage = json.loads([line for line in output.splitlines() if line.startswith('{"maxrss')][-1])
    largest = max(rusage["maxrss_self_kib"], rusage["maxrss_children_kib"]) * 1024
    checked = check(manifest, root / "secure")
    out["secure"] = {"seconds": secure, "per_minute": 60 * len(entries) / secure, "load_before": before,
                     "load_after": load(), "peak_pss_mib": sampler.peak_pss / 2**20,
                     "peak_rss_mib": sampler.peak_rss / 2**20, "largest_process_mib": largest / 2**20,
                     "peak_processes": sampler.peak_processes, "samples": sampler.samples, **checked}
    out["ratio"] = out["secure"]["per_minute"] / out["plain"]["per_minute"]
    log(f"  secure grader, sandbox, {workers} workers, all {len(entries)}: {secure:.1f} s, "
        f"{out['secure']['per_minute']:.1f} submissions/min, {out['ratio']:.2f}x plain nbgrader's rate "
        f"(load {before} -> {load()})", flush=True)
    log(f"  peak memory of the grader's process tree: {out['secure']['peak_pss_mib']:.0f} MiB PSS "
        f"({out['secure']['peak_rss_mib']:.0f} MiB RSS summed, {sampler.peak_processes} processes at most; "
        f"largest single process {out['secure']['largest_process_mib']:.0f} MiB)", flush=True)
    log(f"  manifest: {checked['results']} results for {len(entries)} submissions, {checked['lost']} lost, "
        f"{checked['honest_as_expected']} honest and {checked['adversarial_as_expected']} adversarial as expected "
        f"(score, flag or reason), {len(checked['problems'])} problems", flush=True)
    for problem in checked["problems"]:
        log(f"    {problem}", flush=True)

    # 3. kill -9 in the middle, then a re-run: the same final results.
    if kill:
        reference = {key: outcome(result, root / "secure") for key, result in results_of(root / "secure").items()}
        out["kill"] = kill_and_rerun(root / "killed", entries, workers, reference, log, released)
    return out


def kill_and_rerun(root: Path, entries: list[dict], workers: int, reference: dict, log=print,
                   released: Path | None = None) -> dict:
    """Grade ``entries`` in a fresh course, ``kill -9`` the grader's process group at half, re-run; compare
    with ``reference`` (``{(exercise, student): outcome}``)."""
    build_course(root, entries, released=released)
    total = len(entries)
    child = subprocess.Popen(grader_command(root, workers), cwd=REPO, env=child_env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    done_at_kill = 0
    while child.poll() is None:
        done_at_kill = len(list((root / "autograder" / "var" / "grading").glob("*/results/*.json")))
        if done_at_kill >= total / 2:
            os.killpg(child.pid, signal.SIGKILL)
            break
        time.sleep(0.2)
    child.wait()
    killed = child.returncode == -signal.SIGKILL
    time.sleep(1)
    survivors = [p for p in TreeSampler(1).tree() if _in_session(p, child.pid) or _names(p, root)]
    start = time.perf_counter()
    rerun = subprocess.run(grader_command(root, workers), cwd=REPO, env=child_env(), capture_output=True, text=True)
    if rerun.returncode != 0:
        raise RuntimeError(f"the re-run after kill -9 failed (exit {rerun.returncode}):\n{rerun.stdout[-3000:]}{rerun.stderr[-3000:]}")
    after = {key: outcome(result, root) for key, result in results_of(root).items()}
    differ = sorted(f"{e}/{s}" for e, s in set(after) | set(reference) if after.get((e, s)) != reference.get((e, s)))
    out = {"killed": killed, "results_at_kill": done_at_kill, "total": total, "rerun_seconds": time.perf_counter() - start,
           "survivors": len(survivors), "equal": killed and not differ and len(after) == len(reference) == total,
           "differ": differ[:20]}
    log(f"  kill -9 of the grader's process group at {done_at_kill} of {total} results "
        f"({'killed' if killed else 'it had ended first'}; {len(survivors)} of its processes left), re-run in "
        f"{out['rerun_seconds']:.1f} s: final results {'identical to' if out['equal'] else 'DIFFERENT from'} "
        f"the uninterrupted run's{'' if not differ else ': ' + ', '.join(differ[:5])}", flush=True)
    return out


def _names(pid: int, root: Path) -> bool:
    """Whether process ``pid``'s command line names the course ``root`` (a sandbox left behind would)."""
    try:
        return str(root).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _in_session(pid: int, session: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[4]) == session
    except (OSError, IndexError, ValueError):
        return False


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["grade"]:
        return grade_course(Path(argv[1]), int(argv[2]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--adversarial", type=float, default=0.1, help="fraction of adversarial submissions")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--root", type=Path, default=None, help="where the courses go (default _build/bench-class)")
    parser.add_argument("--no-kill", action="store_true", help="leave out the kill -9 and re-run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    figures = run(args.submissions, args.adversarial, args.workers, args.root, not args.no_kill)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    ok = not figures["secure"]["problems"] and figures.get("kill", {"equal": True})["equal"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
