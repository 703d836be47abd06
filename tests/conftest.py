"""Shared fixtures."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "_build" / "test-artifacts"  # screenshots and reports a person looks at


def venv_env() -> dict[str, str]:
    """The environment for subprocesses: this interpreter's bin/ first on PATH."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.fixture(scope="session")
def built_book() -> Path:
    """The website, built by `make book` exactly as a reader would (cached chapters are reused).

    Test files run on several workers; the lock lets one build while the others wait, after
    which their `make book` finds every chapter cached.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with FileLock(str(ARTIFACTS / "book-build.lock")):
        done = subprocess.run(["make", "--no-print-directory", "book"], cwd=REPO, env=venv_env(),
                              capture_output=True, text=True)
    (ARTIFACTS / "book-build.log").write_text(done.stdout + done.stderr)
    assert done.returncode == 0, f"`make book` failed (exit {done.returncode}); the end of its log:\n{(done.stdout + done.stderr)[-6000:]}"
    return REPO / "_build" / "html"
