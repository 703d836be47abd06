"""JupyterLab as students and instructors meet it, in headless Chromium.

The student opens exercise 01's release notebook, types answers, runs everything and presses
nbgrader's *Validate*: a correct answer reports success, a wrong one a failure that names the
task. The instructor opens formgrader on the demo course (`make grade-demo`) and sees the
submissions with their scores. A chapter's ``.md`` opens as a notebook through jupytext.
JupyterLab runs with the course's ``lab_config/`` (what `make lab` uses) on a copy of the files,
so nothing in the checkout changes. Screenshots go to _build/test-artifacts/.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from autograder import demo
from autograder.nbgrader_cli import nbgrader
from tests.browser_helpers import chromium, jupyterlab, screenshot, source_title, watched_page
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # builds, grades or drives a browser: `-m "not slow"` skips it

EXERCISE = "01_softmax_ce_kl"
COURSE_ID = "seqmodels"  # lab_config/nbgrader_config.py's

def forgot_to_return(code: str) -> str:
    """``code``, then its first function redefined to return nothing (the body's last line, say,
    forgotten): a slip the task's visible tests catch, whatever the task is."""
    name = code.split("def ", 1)[1].split("(", 1)[0]
    return f"{code.rstrip()}\n\n\ndef {name}(*args, **kwargs):\n    pass\n"
VIEWPORT = {"width": 1400, "height": 900}


def nbgrader_config(folder: Path, course_root: Path) -> Path:
    """A config folder whose nbgrader_config.py points nbgrader at ``course_root``.

    It goes before lab_config on Jupyter's configuration path, so it overrides the course root,
    the gradebook and the exchange that lab_config sets for the real checkout, and keeps
    nbgrader's submission cache out of the user's home.
    """
    folder.mkdir(parents=True, exist_ok=True)
    gradebook = f"sqlite:///{course_root / 'gradebook.db'}"
    (folder / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course_root)!r}\n"
        f"c.CourseDirectory.db_url = {gradebook!r}\n"
        f"c.Exchange.root = {str(course_root / 'exchange')!r}\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        # The student's record of submissions, normally in the user's ~/.local/share/jupyter.
        f"c.Exchange.cache = {str(course_root / 'exchange-cache')!r}\n")
    (course_root / "exchange").mkdir(exist_ok=True)
    return folder


def solutions_by_cell(assignment: str) -> dict[str, str]:
    """``{answer cell id: the solution as a student would type it}`` for one exercise."""
    source = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: demo.solution_code(c.source) for c in source.cells
            if c.metadata.get("nbgrader", {}).get("solution")}


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def student_lab(tmp_path_factory):
    """JupyterLab on a copy of the student release and the chapters, as `make lab` opens it.

    Exercise 01 is also released into this course's exchange, as an instructor would, so that
    the student's Assignment List has something to show.
    """
    scratch = tmp_path_factory.mktemp("student-lab")
    root = scratch / "course"
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    shutil.copytree(REPO / "solutions" / EXERCISE, root / "solutions" / EXERCISE)
    shutil.copytree(REPO / "book", root / "book", ignore=shutil.ignore_patterns("_ext", "__pycache__"))
    config = nbgrader_config(scratch / "config", root)
    nbgrader("generate_assignment", EXERCISE, "--force", root=root)  # records it in the gradebook
    nbgrader("release_assignment", EXERCISE, f"--Exchange.root={root / 'exchange'}",
             f"--CourseDirectory.course_id={COURSE_ID}", root=root)
    with jupyterlab(root, scratch, extra_config=config) as lab:
        yield lab


def open_in_lab(browser, lab, path: str):
    context = browser.new_context(viewport=VIEWPORT)
    watched = watched_page(context)
    # ?reset: a fresh workspace, not the tabs the previous test left open on this server.
    watched.page.goto(lab.at(f"/lab/tree/{path}?reset"))
    return watched


def set_cell_source(page, grade_id: str, code: str) -> None:
    """Replace the text of the answer cell ``grade_id`` by typing ``code`` into its editor."""
    cell = page.locator(f'.jp-Notebook .jp-CodeCell:has(.cm-content:has-text("def {grade_id}("))').first
    cell.scroll_into_view_if_needed()
    editor = cell.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    # insert_text types the whole block at once: no auto-indent or bracket closing on the way.
    page.keyboard.insert_text(code.rstrip("\n"))
    page.keyboard.press("Escape")


def click_menu(page, menu: str, item: str) -> None:
    """Choose ``menu`` → ``item`` in JupyterLab's menu bar."""
    page.locator(".lm-MenuBar-item").filter(has_text=menu).first.click()
    page.locator(".lm-Menu-item:visible").filter(has_text=item).first.click()


def run_all_and_validate(page) -> str:
    """Run every cell, press Validate, and return the text of nbgrader's report."""
    click_menu(page, "Run", "Run All Cells")
    # Run all has started when a cell waits or runs ("[*]"), and is done when none does.
    busy = "() => [...document.querySelectorAll('.jp-InputArea-prompt')].some(p => p.textContent.includes('*'))"
    with contextlib.suppress(PlaywrightTimeout):  # a fast run may be over before the first poll
        page.wait_for_function(busy, timeout=10_000)
    page.wait_for_function(f"() => !({busy})()", timeout=120_000)
    page.get_by_role("button", name="Validate", exact=True).click()
    dialog = page.locator(".jp-Dialog-content")
    dialog.wait_for(timeout=120_000)
    page.wait_for_function("() => !document.querySelector('.jp-Dialog-body')?.textContent.includes('Validating')",
                           timeout=120_000)
    return dialog.inner_text()


def close_dialog(page) -> None:
    page.locator(".jp-Dialog-footer button").last.click()
    page.locator(".jp-Dialog").wait_for(state="detached")


def test_validate_reports_success_then_the_failing_task(browser, student_lab):
    solutions = solutions_by_cell(EXERCISE)
    watched = open_in_lab(browser, student_lab, f"notebooks/{EXERCISE}/{EXERCISE}.ipynb")
    page = watched.page
    page.wait_for_selector(".jp-Notebook .jp-CodeCell .cm-content", timeout=60_000)
    page.get_by_role("button", name="Validate", exact=True).wait_for(timeout=30_000)
    for grade_id, code in solutions.items():
        set_cell_source(page, grade_id, code)
    report = run_all_and_validate(page)
    screenshot(page, "lab-validate-success")
    assert "Success" in report and "passes" in report, f"Validate did not report success:\n{report}"
    close_dialog(page)

    first = next(iter(solutions))
    set_cell_source(page, first, forgot_to_return(solutions[first]))
    report = run_all_and_validate(page)
    screenshot(page, "lab-validate-failure")
    assert "failed" in report.lower(), f"Validate did not report the wrong answer:\n{report}"
    assert first in report, f"the failure does not name the task ({first}):\n{report}"
    others = [grade_id for grade_id in solutions if grade_id != first]
    assert not [g for g in others if f"test-{g}" in report or f"{g}(" in report], \
        f"Validate blames tasks that are right:\n{report}"
    close_dialog(page)
    assert not watched.foreign, f"JupyterLab requested other hosts: {watched.foreign}"
    assert not watched.errors, f"console errors in JupyterLab: {watched.errors}"


def test_make_lab_starts_as_root_and_says_why(student_lab):
    """Containers and CI run as root, where Jupyter refuses to start unless told to: `make lab` (which
    started this lab) tells it, and says so; as any other user it passes nothing."""
    says_root = "running as root" in student_lab.log.read_text()
    assert says_root == (os.geteuid() == 0), f"make lab as uid {os.geteuid()}: see {student_lab.log}"


def test_a_chapter_opens_as_a_notebook(browser, student_lab):
    chapter = sorted((REPO / "book").glob("[0-9][0-9]_*.md"))[0]
    watched = open_in_lab(browser, student_lab, f"book/{chapter.name}")
    page = watched.page
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")
    tab.filter(has_text=chapter.name).wait_for(timeout=60_000)
    # jupytext's notebook view: Markdown and code cells, not a text editor showing the Markdown.
    panel = page.locator(".jp-NotebookPanel:visible")
    panel.locator(".jp-CodeCell").first.wait_for(timeout=60_000)
    page.locator(".jp-NotebookPanel .jp-Spinner").wait_for(state="detached", timeout=30_000)
    # Markdown cells render a few seconds after the code cells appear.
    heading = panel.locator(".jp-MarkdownCell h1").first
    heading.wait_for(timeout=30_000)
    page.wait_for_timeout(1_000)
    screenshot(page, "lab-chapter-as-notebook")
    title = heading.inner_text()
    assert source_title(f"book/{chapter.stem}") in title, f"the notebook shows {title!r}, not {chapter.name}"
    assert panel.locator(".jp-CodeCell").count() >= 5, "the chapter's code cells are missing"
    assert not watched.foreign, f"JupyterLab requested other hosts: {watched.foreign}"
    assert not watched.errors, f"console errors in JupyterLab: {watched.errors}"


def test_assignment_list_shows_the_released_exercise(browser, student_lab):
    watched = open_in_lab(browser, student_lab, "notebooks")
    page = watched.page
    click_menu(page, "Nbgrader", "Assignment List")
    released = page.locator("#released_assignments_list")
    released.get_by_text(EXERCISE).wait_for(timeout=30_000)
    screenshot(page, "lab-assignment-list")
    text = page.locator(".jp-MainAreaWidget:visible").last.inner_text()
    assert "error" not in text.lower(), f"the Assignment List shows an error:\n{text}"
    assert released.get_by_role("button", name="Fetch").count() == 1, f"no Fetch button for {EXERCISE}:\n{text}"
    assert not watched.foreign, f"JupyterLab requested other hosts: {watched.foreign}"
    assert not watched.errors, f"console errors in JupyterLab: {watched.errors}"


@pytest.fixture(scope="module")
def demo_course(tmp_path_factory):
    """The demo course of `make grade-demo`, graded in a temporary folder."""
    root = tmp_path_factory.mktemp("formgrader") / "course"
    scores = demo.run(root)
    return root, scores


def test_formgrader_shows_the_demo_submissions_and_scores(browser, demo_course, tmp_path):
    root, scores = demo_course
    with jupyterlab(root, tmp_path, extra_config=nbgrader_config(tmp_path / "config", root)) as lab:
        context = browser.new_context(viewport=VIEWPORT)
        watched = watched_page(context)
        page = watched.page
        # The instructor's way in: JupyterLab (which logs the browser in), Nbgrader → Formgrader.
        page.goto(lab.at("/lab"))
        click_menu(page, "Nbgrader", "Formgrader")
        page.frame_locator("iframe").get_by_text(demo.ASSIGNMENT).first.wait_for(timeout=30_000)
        screenshot(page, "formgrader-in-lab")
        # The submissions of the assignment, in formgrader's own page (its iframe, full size).
        page.goto(f"{lab.url}/formgrader/manage_submissions/{demo.ASSIGNMENT}")
        # formgrader fills its table from its REST API after the page has loaded.
        page.wait_for_function("() => document.querySelector('table')?.innerText.includes('demo-')"
                               " && !document.querySelector('table').innerText.includes('Loading')", timeout=30_000)
        screenshot(page, "formgrader-submissions")
        table = page.locator("table").first.inner_text()
    for student, score in scores.items():
        line = next((row for row in table.splitlines() if student in row), None)
        assert line is not None, f"formgrader does not list {student}:\n{table}"
        assert f"{score:g}" in line, f"formgrader shows {student} without its score {score:g}: {line!r}"
    assert not watched.foreign, f"formgrader requested other hosts: {watched.foreign}"
    assert not watched.errors, f"console errors in formgrader: {watched.errors}"
