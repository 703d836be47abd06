"""Run nbgrader commands with the course's configuration, from Python."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "autograder" / "nbgrader_config.py"


def assignments() -> list[str]:
    """The exercise ids: one folder ``solutions/<id>/`` holding ``<id>.ipynb`` each."""
    return sorted(p.parent.name for p in (REPO / "solutions").glob("*/*.ipynb") if p.stem == p.parent.name)


def nbgrader(*args: str, root: Path = REPO, db_url: str | None = None) -> subprocess.CompletedProcess:
    """Run ``nbgrader *args`` on the course in ``root``; exit with nbgrader's log if it fails.

    ``root`` other than the repository gives a separate course (the demo's, a test's) with its
    own gradebook, ``<root>/gradebook.db`` unless ``db_url`` says otherwise.
    """
    cmd = [sys.executable, "-m", "nbgrader", *args, f"--NbGrader.config_file={CONFIG}"]
    if root == REPO:
        (REPO / "autograder" / "var").mkdir(exist_ok=True)  # where the config puts the gradebook
    else:
        db_url = db_url or f"sqlite:///{root / 'gradebook.db'}"
        cmd += [f"--CourseDirectory.root={root}", f"--CourseDirectory.db_url={db_url}"]
    # nbgrader runs `alembic` by name: the environment's bin/ must come first on PATH.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"nbgrader {args[0]} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return done
