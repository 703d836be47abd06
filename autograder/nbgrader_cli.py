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


def nbgrader(*args: str, root: Path = REPO, db_url: str | None = None, config: Path = CONFIG,
             check: bool = True) -> subprocess.CompletedProcess:
    """Run ``nbgrader *args`` on the course in ``root``; exit with nbgrader's log if it fails.

    ``root`` other than the repository gives a separate course (the demo's, a test's) with its
    own gradebook, ``<root>/gradebook.db`` unless ``db_url`` says otherwise. ``config`` is a
    configuration file that loads the course's (the secure grader adds its settings this way).
    With ``check=False`` a failure is returned rather than ending the program.
    """
    cmd = [sys.executable, "-m", "nbgrader", *args, f"--NbGrader.config_file={config}"]
    if root == REPO:
        (REPO / "autograder" / "var").mkdir(exist_ok=True)  # where the config puts the gradebook
    else:
        db_url = db_url or f"sqlite:///{root / 'gradebook.db'}"
        cmd += [f"--CourseDirectory.root={root}", f"--CourseDirectory.db_url={db_url}"]
    if db_url and root == REPO:
        cmd.append(f"--CourseDirectory.db_url={db_url}")
    # nbgrader runs `alembic` by name: the environment's bin/ must come first on PATH. The
    # repository goes on PYTHONPATH so that nbgrader can load this package's preprocessors.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    if done.returncode != 0 and check:
        sys.exit(f"nbgrader {args[0]} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return done
