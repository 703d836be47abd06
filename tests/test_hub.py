"""`make hub`: a class on a real JupyterHub, round trip in headless Chromium.

The hub is started by `make hub` (as root: it creates the accounts, the exchange with one inbound
folder per student, and the instructor's course folder), on a free port of 127.0.0.1, with its
state in a temporary folder and test accounts (``seqtest-*``) removed at the end. Then:

1. the instructor logs in and, in Formgrader, generates the student version of exercise 01 and
   releases it;
2. student 1 logs in with their password (PAM), fetches the exercise in the Assignment List,
   solves it, validates it and submits it; student 2 submits the untouched release from a shell;
3. student 2 tries, as their own account, to list, read and overwrite student 1's submission and
   to read the instructor's files and the course's solutions, and is refused each time; student
   1's kernel is refused the same, and student 1's browser is refused student 2's server;
4. the instructor, in the browser: Formgrader's Collect; Formgrader's Autograde button, which
   must refuse (it would run the submission unsandboxed, with the instructor's rights); the
   course's sandboxed grader typed into a JupyterLab terminal, as book/jupyterhub.md says; the
   scores in Formgrader and the report page; Formgrader's Release Feedback;
5. student 1 fetches the feedback in the Assignment List: it shows their score, and none of the
   hidden tests' code.

Screenshots go to _build/test-artifacts/hub-*.png. Needs root (useradd, and the hub runs each
server as its user): as any other user the test is skipped, saying why (`make test` does not
require root; CI runs it as root).
"""
from __future__ import annotations

import contextlib
import csv
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from urllib.parse import quote
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup

from tests.browser_helpers import chromium, free_port, screenshot, stop_process_group, watched_page
from tests.conftest import ARTIFACTS, REPO, venv_env
from tests.test_lab import close_dialog, click_menu, run_all_and_validate, set_cell_source, solutions_by_cell

pytestmark = pytest.mark.slow

EXERCISE = "01_softmax_ce_kl"
COURSE = "seqmodels"
INSTRUCTOR = "seqtest-teacher"
STUDENTS = ["seqtest-s1", "seqtest-s2", "seqtest-s3"]
VIEWPORT = {"width": 1400, "height": 900}
BIN = REPO / ".venv" / "bin"


def blocked_folder(path: Path) -> Path | None:
    """The first folder on the way to ``path`` that other users cannot enter, if any."""
    for p in [*reversed(path.parents), path]:
        if not os.stat(p).st_mode & stat.S_IXOTH:
            return p
    return None


def remove_accounts() -> None:
    for name in [INSTRUCTOR, *STUDENTS]:
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            subprocess.run(["userdel", "--force", "--remove", name], check=False, capture_output=True)


class Hub:
    def __init__(self, url: str, root: Path, process: subprocess.Popen, in_namespace: bool, log: Path):
        self.url, self.root, self.process, self.in_namespace, self.log = url, root, process, in_namespace, log
        self.passwords = dict(line.split(":", 1) for line in (root / "accounts.txt").read_text().split())

    def as_user(self, user: str, *cmd: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
        """``cmd`` run as ``user`` (runuser), in the hub's view of the files, with the hub's environment."""
        home = Path(pwd.getpwnam(user).pw_dir)
        env = [f"HOME={home}", f"USER={user}", f"PATH={BIN}:/usr/local/bin:/usr/bin:/bin",
               f"JUPYTER_CONFIG_PATH={self.root / 'jupyter'}", f"PYTHONPATH={REPO}", "OMP_NUM_THREADS=1"]
        full = ["runuser", "-u", user, "--", "env", "-i", *env, *cmd]
        if self.in_namespace:  # entering a mount namespace moves to its "/": --wd comes back
            full = ["nsenter", "-t", str(self.process.pid), "-m", f"--wd={cwd or home}", *full]
        done = subprocess.run(full, cwd=cwd or home, capture_output=True, text=True)
        if check and done.returncode != 0:
            raise AssertionError(f"as {user}: {' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done


@pytest.fixture(scope="module")
def hub():
    if os.geteuid() != 0:
        pytest.skip("the hub test creates Unix accounts and runs servers as them: it needs root (CI runs as root)")
    remove_accounts()
    root_parent = Path(tempfile.mkdtemp(prefix="seqmodels-hub-"))
    os.chmod(root_parent, 0o755)
    root = root_parent / "srv"
    port = free_port()
    make = ["make", "--no-print-directory", "-C", str(REPO), "hub", f"HUB_ROOT={root}", f"HUB_PORT={port}",
            f"HUB_INSTRUCTOR={INSTRUCTOR}", f"HUB_STUDENTS={' '.join(STUDENTS)}"]
    # Every account's server runs the course's Python. Where that Python lives in a folder other
    # users cannot enter (a pyenv build under /root, on this course's development machines), the
    # hub runs in a mount namespace of its own that shows that one folder to them, changing
    # nothing on the machine. Where it is readable (Debian's python3, CI), `make hub` runs as is.
    python_home = (BIN / "python").resolve().parent
    blocked = blocked_folder(python_home)
    in_namespace = blocked is not None
    if in_namespace:
        inner = python_home.relative_to(blocked).parts[0]
        view = root_parent / "view"
        (view / inner).mkdir(parents=True)
        os.chmod(view, 0o711)
        script = (f'mount --bind "{blocked / inner}" "{view / inner}" && mount --rbind "{view}" "{blocked}" '
                  '&& exec "$@"')
        make = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *make]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "hub.log"
    with open(log, "w") as log_file:
        process = subprocess.Popen(make, cwd=REPO, env=venv_env(), stdout=log_file, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # the first run installs the proxy from npm
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"`make hub` exited with {process.returncode}:\n{log.read_text()[-4000:]}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{url}/hub/api", timeout=2) as response:
                    if response.status == 200:
                        break
            if time.monotonic() > deadline:
                raise TimeoutError(f"the hub did not answer:\n{log.read_text()[-4000:]}")
            time.sleep(0.5)
        yield Hub(url, root, process, in_namespace, log)
    finally:
        stop_process_group(process, timeout_s=20)
        remove_accounts()
        shutil.rmtree(root_parent, ignore_errors=True)


def hub_login(browser, hub: Hub, user: str):
    """A browser context logged in to the hub as ``user`` with their password, on their JupyterLab."""
    context = browser.new_context(viewport=VIEWPORT)
    watched = watched_page(context)
    page = watched.page
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", hub.passwords[user])
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{user}/lab**", timeout=120_000)
    page.locator(".lm-MenuBar-item").filter(has_text="Nbgrader").wait_for(timeout=120_000)
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=60_000)
    return watched


def assignment_list(page):
    click_menu(page, "Nbgrader", "Assignment List")
    return page.locator(".jp-MainAreaWidget:visible").last


def run_in_new_cell(page, notebook: str, code: str, until: str) -> str:
    """Add a cell at the end of the open notebook ``notebook``, run ``code`` in it and return its
    output once it contains ``until``."""
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab").filter(has_text=f"{notebook}.ipynb").first.click()
    last = page.locator(".jp-NotebookPanel:visible .jp-Cell").last
    last.scroll_into_view_if_needed()
    last.locator(".jp-InputPrompt").click()  # selects the cell, command mode
    page.keyboard.press("b")  # a new cell below, selected
    page.keyboard.press("Enter")  # edit it
    page.keyboard.insert_text(code)
    page.keyboard.press("Shift+Enter")
    output = page.locator(".jp-NotebookPanel:visible .jp-OutputArea-output").filter(has_text=until).last
    output.wait_for(timeout=60_000)
    return output.inner_text()


def formgrader_row(page, hub: Hub, view: str, text: str):
    """Formgrader's page ``view`` in the instructor's server, and its table row that shows ``text``."""
    page.goto(f"{hub.url}/user/{INSTRUCTOR}/formgrader/{view}")
    row = page.locator("tbody tr").filter(has_text=text).first
    row.wait_for(timeout=60_000)  # Formgrader fills its tables from its REST API once the page has loaded
    return row


def formgrader_press(page, row, column: str, screenshot_name: str) -> str:
    """Press the icon in ``column`` (its cell's class) of a Formgrader ``row``; return the text of the
    dialog that answers, once it has been captured and closed."""
    row.locator(f"td.{column} a").click()
    dialog = page.locator(".modal.in .modal-content")
    dialog.wait_for(timeout=180_000)
    screenshot(page, screenshot_name)
    text = dialog.inner_text()
    dialog.locator(".modal-footer button").click()
    page.locator(".modal").wait_for(state="detached", timeout=30_000)
    return text


# The instructor's own JupyterLab setting: xterm draws a terminal on a canvas; in screen-reader mode
# it also keeps the text in the page, where the test can read it.
SCREEN_READER_MODE = """async (url) => {
    const xsrf = (document.cookie.match(/_xsrf=([^;]+)/) || [])[1];
    const response = await fetch(url, {method: 'PUT', body: JSON.stringify({raw: '{"screenReaderMode": true}'}),
        headers: {'Content-Type': 'application/json', 'X-XSRFToken': xsrf ? decodeURIComponent(xsrf) : ''}});
    return response.status;
}"""


def run_in_terminal(page, hub: Hub, command: str, done: str, timeout_s: float) -> str:
    """Open a terminal in the instructor's JupyterLab (the Launcher's card), type ``command`` once
    the shell's prompt shows, and return the terminal's text once it matches the regular
    expression ``done``."""
    lab = f"{hub.url}/user/{INSTRUCTOR}/lab"
    page.goto(f"{lab}?reset")
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=60_000)
    status = page.evaluate(SCREEN_READER_MODE, f"/user/{INSTRUCTOR}/lab/api/settings/"
                                               "@jupyterlab/terminal-extension:plugin")
    assert status == 204, f"the terminal's setting was refused: {status}"
    page.reload()
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=60_000)
    page.locator(".jp-LauncherCard").filter(has_text="Terminal").first.click()
    text = page.locator(".jp-Terminal .xterm-accessibility-tree").last
    text.wait_for(state="attached", timeout=60_000)
    deadline = time.monotonic() + 60
    while "$" not in text.inner_text():  # the shell's prompt: keys typed before it may be lost
        assert time.monotonic() < deadline, f"no prompt in the terminal: {text.inner_text()!r}"
        time.sleep(0.2)
    page.locator(".jp-Terminal .xterm-screen").last.click()
    page.keyboard.type(command)
    page.keyboard.press("Enter")
    deadline = time.monotonic() + timeout_s
    while not re.search(done, shown := text.inner_text().replace("\xa0", " ")):
        if time.monotonic() > deadline or "Traceback" in shown:
            screenshot(page, "hub-terminal-failed")
            raise AssertionError(f"the terminal did not show {done!r}:\n{shown.rstrip()}")
        time.sleep(0.5)
    return shown


def hidden_test_lines(assignment: str) -> list[str]:
    """The code lines of the exercise's hidden tests (what feedback must never show)."""
    nb = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    hidden, visible = [], set()
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside:
                hidden.append(line.strip())
            else:
                visible.add(line.strip())
    # Lines that appear elsewhere too (the solution's, a visible test's) may be shown, of course.
    shown = "\n".join(visible)
    lines = [line for line in hidden if len(line) > 15 and not line.startswith("#") and line not in shown]
    assert lines, f"{assignment} has no hidden tests"
    return lines


def test_a_class_round_trip_on_the_hub(hub):
    started = time.monotonic()
    s1, s2 = STUDENTS[0], STUDENTS[1]
    course = Path(pwd.getpwnam(INSTRUCTOR).pw_dir) / COURSE
    nbgrader = [str(BIN / "python"), "-m", "nbgrader"]

    with chromium() as browser:
        # 1. The instructor logs in and, in Formgrader, generates the student version and releases it.
        teacher = hub_login(browser, hub, INSTRUCTOR)
        tpage = teacher.page
        row = formgrader_row(tpage, hub, "manage_assignments", EXERCISE)
        screenshot(tpage, "hub-formgrader-assignments")
        said = formgrader_press(tpage, row, "assign", "hub-formgrader-generated")
        assert "Successfully created the student version" in said, said
        row = formgrader_row(tpage, hub, "manage_assignments", EXERCISE)
        said = formgrader_press(tpage, row, "release", "hub-formgrader-released")
        assert "Successfully released" in said, said
        assert (hub.root / "exchange" / COURSE / "outbound" / EXERCISE / f"{EXERCISE}.ipynb").is_file()

        # 2. Student 1 logs in, fetches, solves, validates and submits in the browser.
        watched = hub_login(browser, hub, s1)
        page = watched.page
        screenshot(page, "hub-student-logged-in")
        page.locator(".lm-MenuBar-item").filter(has_text="Nbgrader").first.click()
        items = page.locator(".lm-Menu-item:visible").all_inner_texts()
        page.keyboard.press("Escape")
        assert not [i for i in items if "Formgrader" in i], f"a student's Nbgrader menu offers {items}"
        panel = assignment_list(page)
        released = page.locator("#released_assignments_list")
        released.get_by_text(EXERCISE).wait_for(timeout=30_000)
        screenshot(page, "hub-assignment-list")
        released.get_by_role("button", name="Fetch").click()
        fetched = page.locator("#fetched_assignments_list")
        fetched.get_by_text(EXERCISE).first.wait_for(timeout=30_000)
        notebook = Path(pwd.getpwnam(s1).pw_dir) / EXERCISE / f"{EXERCISE}.ipynb"
        assert notebook.exists(), f"Fetch did not put the exercise into {s1}'s home"

        page.goto(f"{hub.url}/user/{s1}/lab/tree/{EXERCISE}/{EXERCISE}.ipynb?reset")
        page.wait_for_selector(".jp-Notebook .jp-CodeCell .cm-content", timeout=60_000)
        page.get_by_role("button", name="Validate", exact=True).wait_for(timeout=30_000)
        for grade_id, code in solutions_by_cell(EXERCISE).items():
            set_cell_source(page, grade_id, code)
        report = run_all_and_validate(page)
        screenshot(page, "hub-validate")
        assert "Success" in report and "passes" in report, f"Validate did not report success:\n{report}"
        close_dialog(page)
        page.keyboard.press("Control+s")
        page.wait_for_function("() => !document.querySelector('.jp-mod-current .jp-mod-dirty')", timeout=30_000)

        assignment_list(page)
        fetched = page.locator("#fetched_assignments_list")
        fetched.get_by_role("button", name="Submit").first.click()
        submitted = page.locator("#submitted_assignments_list")
        submitted.get_by_text(EXERCISE).first.wait_for(timeout=60_000)
        screenshot(page, "hub-submitted")

        # Student 2 hands in the untouched release, from a shell.
        hub.as_user(s2, *nbgrader, "fetch_assignment", EXERCISE)
        hub.as_user(s2, *nbgrader, "submit", EXERCISE)

        # 3. What student 2 cannot do, tried as student 2.
        inbound = hub.root / "exchange" / COURSE / "inbound"
        (s1_submission,) = [p for p in (inbound / s1).iterdir()]
        s1_notebook = s1_submission / f"{EXERCISE}.ipynb"
        attempts = {
            "list the inbound folder": ["ls", str(inbound)],
            "list student 1's inbound folder": ["ls", str(inbound / s1)],
            "read student 1's submission": ["cat", str(s1_notebook)],
            "overwrite student 1's submission": ["sh", "-c", f"echo x > '{s1_notebook}'"],
            "add to student 1's inbound folder": ["touch", str(inbound / s1 / f"{s1}+{EXERCISE}+fake")],
            "change the released exercise": ["touch", str(hub.root / "exchange" / COURSE / "outbound" / EXERCISE / "x")],
            "list the feedback folder": ["ls", str(hub.root / "exchange" / COURSE / "feedback")],
            "list the instructor's home": ["ls", pwd.getpwnam(INSTRUCTOR).pw_dir],
            "read the instructor's gradebook": ["cat", str(course / "gradebook.db")],
            "read the course's solutions": ["cat", str(REPO / "solutions" / EXERCISE / f"{EXERCISE}.ipynb")],
            "read the checkout's history": ["ls", str(REPO / ".git")],
            "read the hub's accounts": ["cat", str(hub.root / "accounts.txt")],
            "list student 1's home": ["ls", pwd.getpwnam(s1).pw_dir],
        }
        allowed = {what: done.stdout[:200] for what, cmd in attempts.items()
                   if (done := hub.as_user(s2, *cmd, check=False)).returncode == 0}
        assert not allowed, f"student 2 could: {json.dumps(allowed, indent=1)}"
        # ... nor from a student's own kernel: student 1 tries the same in a new cell of the notebook.
        targets = [inbound, inbound / s2, REPO / "solutions" / EXERCISE / f"{EXERCISE}.ipynb",
                   course / "gradebook.db", Path(pwd.getpwnam(s2).pw_dir)]
        code = ("import os\n"
                f"for p in {[str(t) for t in targets]!r}:\n"
                "    try:\n"
                "        os.listdir(p) if os.path.isdir(p) else open(p, 'rb').read(1)\n"
                "        print('ALLOWED', p)\n"
                "    except OSError as e:\n"
                "        print('REFUSED', p, type(e).__name__)\n"
                "print('checked', len(" + repr([str(t) for t in targets]) + "))")
        output = run_in_new_cell(page, EXERCISE, code, until="checked")
        screenshot(page, "hub-student-kernel-refused")
        assert output.count("REFUSED") == len(targets) and "ALLOWED" not in output, output
        # ... nor through the hub: student 1's browser is refused student 2's server, and has no
        # instructor tools.
        response = page.goto(f"{hub.url}/user/{s1}/formgrader")
        assert response.status == 404, f"a student's server serves Formgrader ({response.status})"
        response = page.goto(f"{hub.url}/user/{s2}/api/contents")
        assert response.status in (403, 404) or f"/user/{s1}/" in page.url or "/hub/" in page.url, \
            f"student 1 reached student 2's server: {response.status} {page.url}"

        # 4. The instructor, in the browser: Formgrader's Collect; its autograde button refuses to run a
        # submission unsandboxed; the sandboxed grader in a JupyterLab terminal, as the guide says;
        # the scores in Formgrader, the report page; Formgrader's Release Feedback.
        row = formgrader_row(tpage, hub, "manage_assignments", EXERCISE)
        said = formgrader_press(tpage, row, "collect", "hub-formgrader-collected")
        assert "Successfully collected" in said, said
        collected = sorted(p.name for p in (course / "autograder" / "var" / "submitted").iterdir())
        assert collected == [s1, s2], f"collect found {collected}"
        row = formgrader_row(tpage, hub, f"manage_submissions/{EXERCISE}", s2)
        said = formgrader_press(tpage, row, "autograde", "hub-formgrader-autograde-refused")
        assert "error autograding" in said and f"python -m autograder.grade {EXERCISE}" in said, said
        assert not list((course / "autograder" / "var" / "autograded").glob("*/*/*.ipynb")), \
            "Formgrader's autograde graded a submission outside the sandbox"

        # Done when the summary's last line is followed by the next prompt.
        shown = run_in_terminal(tpage, hub, f"cd ~/{COURSE} && python -m autograder.grade {EXERCISE} --root . --workers 2",
                                done=r"report page: \S+\s*\n[^\n]*\$", timeout_s=300)
        screenshot(tpage, "hub-terminal-graded")
        with open(course / "autograder" / "var" / "reports" / EXERCISE / "scores.csv") as f:
            scores = {row["student_id"]: row for row in csv.DictReader(f)}
        top = float(scores[s1]["max_score"])
        assert float(scores[s1]["score"]) == top > 0, f"{shown}\n{scores}"
        assert float(scores[s2]["score"]) == 0, f"{shown}\n{scores}"
        for student, score in [(s1, top), (s2, 0.0)]:  # the grader's summary, as the instructor read it
            assert re.search(rf"{student}\s+graded\s+{score:.1f}\s+{top:.0f}", shown), shown
        for student, score in [(s1, top), (s2, 0.0)]:
            row = formgrader_row(tpage, hub, f"manage_submissions/{EXERCISE}", student)
            cell = row.locator("td.score").inner_text()
            assert cell.replace(" ", "") == f"{score:g}/{top:g}", f"Formgrader shows {student}'s score as {cell!r}"
        screenshot(tpage, "hub-formgrader-scores")
        tpage.goto(f"{hub.url}/user/{INSTRUCTOR}/files/{COURSE}/autograder/var/reports/{EXERCISE}/report.html")
        tpage.get_by_role("heading", name="Score distribution").wait_for(timeout=30_000)
        screenshot(tpage, "hub-grading-report", full_page=True)
        row = formgrader_row(tpage, hub, "manage_assignments", EXERCISE)
        said = formgrader_press(tpage, row, "release-feedback", "hub-formgrader-feedback-released")
        assert "Successfully released feedback" in said, said
        assert not teacher.foreign, f"the instructor's pages requested other hosts: {teacher.foreign}"

        # 5. Student 1 fetches the feedback: their score, never the hidden tests' code.
        page.goto(f"{hub.url}/user/{s1}/lab?reset")
        assignment_list(page)
        submitted = page.locator("#submitted_assignments_list")
        submitted.get_by_role("button", name="Fetch Feedback").first.click()
        submitted.get_by_text("(view feedback)").first.wait_for(timeout=60_000)
        screenshot(page, "hub-feedback-fetched")
        assert not watched.foreign, f"the hub's pages requested other hosts: {watched.foreign}"
        pages = list((Path(pwd.getpwnam(s1).pw_dir) / EXERCISE / "feedback").glob(f"*/{EXERCISE}.html"))
        assert len(pages) == 1, f"feedback pages fetched: {pages}"
        # The page as the student sees it, served by their own server (its MathJax link stays offline).
        relative = pages[0].relative_to(pwd.getpwnam(s1).pw_dir)
        feedback = watched_page(page.context).page
        feedback.goto(f"{hub.url}/user/{s1}/files/{quote(str(relative))}")
        feedback.get_by_text("Score").first.wait_for(timeout=30_000)
        screenshot(feedback, "hub-feedback")
    text = BeautifulSoup(pages[0].read_text(), "html.parser").get_text()
    score = float(scores[s1]["score"])
    assert f"{score:g}" in text and "Score" in text, f"the feedback does not show the score {score:g}"
    shown = [line for line in hidden_test_lines(EXERCISE) if line in text]
    assert not shown, f"the feedback shows hidden tests' code: {shown[:3]}"
    elapsed = time.monotonic() - started
    (ARTIFACTS / "hub-timing.txt").write_text(f"round trip: {elapsed:.0f} s\n")
