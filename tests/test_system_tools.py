"""On a fresh machine the two commands of README.md install the Debian packages they need, or stop
at once naming the command that does (issue 21): not minutes into a test run."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time

import pytest

from tests.conftest import REPO

# A PATH with a shell and make but none of the system tools the tests need.
BASICS = ("bash", "make", "env", "id", "sed")


@pytest.fixture()
def bare_path(tmp_path):
    for tool in BASICS:
        (tmp_path / tool).symlink_to(shutil.which(tool))
    return str(tmp_path)


@pytest.mark.parametrize("target, packages", [
    ("system-book", ["npm"]),
    ("system-test", ["npm", "chromium", "bubblewrap"]),
])
def test_a_user_without_the_tools_is_told_the_apt_line_within_seconds(bare_path, target, packages):
    start = time.monotonic()
    # USER_ID: not root; and no sudo on this PATH, so nothing can be installed.
    result = subprocess.run(["make", "--no-print-directory", "-C", str(REPO), target, "USER_ID=1000"],
                            env={**os.environ, "PATH": bare_path}, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0, result.stdout
    assert time.monotonic() - start < 10
    line = re.search(r"sudo apt-get install -y (.+)", result.stdout)
    assert line, f"no install command in:\n{result.stdout}{result.stderr}"
    # PostgreSQL's initdb is found where Debian keeps it, off PATH, when it is installed.
    named = [p for p in line.group(1).split() if p != "postgresql"]
    assert named == packages


def test_book_and_test_check_the_tools_before_anything_else():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^book: system-book ", makefile, re.M)
    assert re.search(r"^test: system-test ", makefile, re.M)


def test_ci_runs_nothing_but_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert "```\nmake test\n```" in readme
    commands = [line for line in (REPO / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert commands[-1] == "exec make test", commands
