"""The book's build times, measured on a snapshot of the working tree so that nobody's build is disturbed.

1. **Clean build**: ``make book`` with no ``_build``: every chapter executes. Its wall time, and the
   sum of the chapters' own execution times as jupyter-cache recorded them (``execution_seconds``):
   the ratio of the two is the build's overhead (Sphinx, kernel start-ups, MathJax copies...).
2. **Cached rebuild**: one chapter's *prose* is edited (a markdown cell appended; no code cell
   changes), then ``make book`` again. jupyter-cache keys a chapter on its code cells, so nothing
   should execute: the figure is what an author waits for after fixing a typo (target: under 20 s).
   We check that the edited chapter was not re-executed (its cache record is unchanged).

The snapshot is a copy of the working tree (uncommitted work included; ``.git``, ``.venv`` and
``_build`` left out) into ``/tmp/benchbook``, with ``.venv`` a symbolic link to the checkout's, and
``PYTHONPATH`` pointing at the snapshot so that its kernels import the snapshot's ``seqlab``
rather than the live checkout's, which other people may be editing. Make never reinstalls the
environment there: the snapshot's ``requirements.txt`` and ``pyproject.toml`` are dated in the past.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SNAPSHOT = Path("/tmp/benchbook")
CACHED_REBUILD_TARGET_S = 20.0
# Files Make would rebuild from the network or with pip; in the snapshot they are taken as up to date.
_MAKE_KEEP = (".venv/.installed", "_vendor/mathjax/tex-chtml.js")
_EXCLUDES = (".git", ".venv", "_build", "autograder/var")  # from the top of the tree
_ANYWHERE = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}


@dataclass
class BookTimes:
    clean_build_s: float
    chapter_execution_s: dict[str, float]  # chapter (relative path) -> execution_seconds
    cached_rebuild_s: float
    edited_chapter: str
    edited_chapter_reexecuted: bool
    log_tail: str = field(default="", repr=False)

    @property
    def execution_total_s(self) -> float:
        return sum(self.chapter_execution_s.values())

    @property
    def overhead_ratio(self) -> float:
        """Clean build wall time over the chapters' summed execution time (1.0: no overhead at all)."""
        return self.clean_build_s / self.execution_total_s


def make_snapshot(source: Path = REPO, snapshot: Path = SNAPSHOT) -> Path:
    """Copy the working tree to ``snapshot`` (replacing what was there) and link the environment."""
    source, snapshot = source.resolve(), snapshot.resolve()
    if snapshot == source or snapshot in source.parents or source in snapshot.parents:
        raise ValueError(f"the snapshot {snapshot} must lie outside the checkout {source}, and not contain it")

    def ignored(folder: str, names: list[str]) -> set[str]:
        here = Path(folder).relative_to(source)
        return {name for name in names if name in _ANYWHERE or (here / name).as_posix() in _EXCLUDES}

    shutil.rmtree(snapshot, ignore_errors=True)
    shutil.copytree(source, snapshot, symlinks=True, ignore=ignored)
    (snapshot / ".venv").symlink_to(source / ".venv")
    past = time.time() - 10 * 365 * 86400
    for name in ("requirements.txt", "pyproject.toml"):
        os.utime(snapshot / name, (past, past))
    _snapshots_made.add(snapshot)
    return snapshot


_snapshots_made: set[Path] = set()  # snapshots this process has made: fresh copies of the working tree


def ensure_snapshot(snapshot: Path = SNAPSHOT) -> Path:
    """A snapshot taken by this process (so not stale), made now if there is none yet."""
    return snapshot if snapshot.resolve() in _snapshots_made else make_snapshot(snapshot=snapshot)


def snapshot_env(snapshot: Path) -> dict[str, str]:
    """The environment of every command run in the snapshot: its own code first, one thread per kernel."""
    bin_dir = snapshot / ".venv" / "bin"
    return {**os.environ, "PYTHONPATH": str(snapshot), "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}


def make(snapshot: Path, target: str, log: list[str]) -> float:
    """Wall seconds of ``make <target>`` in the snapshot; raises with the end of its log if it fails."""
    keep = [arg for path in _MAKE_KEEP for arg in ("-o", path)]
    start = time.perf_counter()
    done = subprocess.run(["make", "--no-print-directory", *keep, target], cwd=snapshot, env=snapshot_env(snapshot),
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    log.append(f"$ make {target}  ({seconds:.1f} s, exit {done.returncode})\n{done.stdout}{done.stderr}")
    if done.returncode != 0:
        raise RuntimeError(f"`make {target}` failed in {snapshot} (exit {done.returncode}); the end of its log:\n"
                           f"{(done.stdout + done.stderr)[-4000:]}")
    return seconds


def chapter_records(snapshot: Path) -> dict[str, tuple[float, object]]:
    """``{chapter: (execution_seconds, record created)}`` from the snapshot's jupyter-cache."""
    from jupyter_cache import get_cache

    records = get_cache(snapshot / "_build" / ".jupyter_cache").list_cache_records()
    result = {}
    for record in records:
        path = Path(record.uri).resolve()
        try:
            name = path.relative_to(snapshot.resolve()).as_posix()
        except ValueError:
            name = path.as_posix()
        result[name] = (float(record.data.get("execution_seconds", 0.0)), record.created)
    return result


def edit_prose(chapter: Path) -> None:
    """Append a markdown cell: what a typo fix changes, and nothing jupyter-cache hashes."""
    with chapter.open("a") as file:
        file.write("\n+++\n\nA sentence added by the cached-rebuild benchmark (a prose edit, no code).\n")


def run(snapshot: Path = SNAPSHOT, source: Path = REPO) -> BookTimes:
    make_snapshot(source, snapshot)
    log: list[str] = []
    clean = make(snapshot, "book", log)
    records = chapter_records(snapshot)
    if not records:
        raise RuntimeError("the clean build recorded no chapter in _build/.jupyter_cache: is execute_notebooks still 'cache'?")
    # Edit the chapter that costs most to execute: re-running it by mistake would show the most.
    edited = max(records, key=lambda name: records[name][0])
    edit_prose(snapshot / edited)
    cached = make(snapshot, "book", log)
    after = chapter_records(snapshot)
    reexecuted = after.get(edited, (None, None))[1] != records[edited][1]
    return BookTimes(clean, {name: seconds for name, (seconds, _) in sorted(records.items())}, cached, edited,
                     reexecuted, "\n".join(log)[-4000:])


if __name__ == "__main__":  # a look at the book's figures alone: python -m benchmarks.book
    times = run()
    print(times, f"\noverhead ratio {times.overhead_ratio:.2f}", file=sys.stderr)
