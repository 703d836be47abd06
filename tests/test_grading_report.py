"""The instructor's report page that `make grade` writes per exercise (``autograder/report.py``).

Most tests build the page from synthetic results, in the format ``grade.grade_one`` writes them
(fast: no sandbox, no nbgrader): its sections, the pass rates, the grouping and anonymity of the
failure messages, the flagged students with their reasons, HTML escaping, the histogram. The slow
ones grade the demo course (`make grade-demo`'s three submissions) and open the pages in Chromium.
"""
from __future__ import annotations

import html
import re
import statistics
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder import grade, report

ASSIGNMENT = "99_synthetic"
TASKS = [("test-alpha", 20, "Task 1: alpha"), ("test-beta", 30, "Task 2: beta"), ("test-gamma", 50, "Task 3: gamma")]
NBGRADER = {"schema_version": 3, "locked": True, "task": False}


def source_notebook() -> nbformat.NotebookNode:
    """An exercise of three tasks: a heading, an answer cell and a graded test cell each."""
    cells = [new_markdown_cell("# Exercise 99", metadata={"nbgrader": {**NBGRADER, "grade": False, "solution": False,
                                                                          "grade_id": "intro"}})]
    for gid, points, title in TASKS:
        name = gid.removeprefix("test-")
        cells += [new_markdown_cell(f"## {title} ({points} points)\n\nDo it.",
                                    metadata={"nbgrader": {**NBGRADER, "grade": False, "solution": False,
                                                           "grade_id": f"md-{name}"}}),
                  new_code_cell(f"def {name}():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
                                metadata={"nbgrader": {**NBGRADER, "locked": False, "grade": False, "solution": True,
                                                       "grade_id": name}}),
                  new_code_cell(f"assert {name}() == 1", metadata={"nbgrader": {**NBGRADER, "grade": True,
                                                                                "solution": False, "grade_id": gid,
                                                                                "points": points}})]
    return new_notebook(cells=cells)


def error(ename: str, evalue: str) -> list[dict]:
    return [{"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]}]


def student_raised(function: str, cell_hash: str, line: int, code: str) -> list[dict]:
    """What ``trusted.rebuild_error`` makes of an exception raised by the student's own function."""
    return error("NotImplementedError", f'raised by your {function}(); traceback:\n  File "<ipython-input-1-{cell_hash}>", '
                                        f"line {line}, in {function}\n    {code}\nNotImplementedError")


def graded(student: str, failures: dict[str, list[dict]], flags: tuple[str, ...] = ()) -> dict:
    """A graded result: every task passed except those in ``failures`` (grade id -> the test's outputs)."""
    source = source_notebook()
    tests, outputs = {}, {}
    for index, cell in enumerate(source.cells):
        gid = cell.metadata["nbgrader"]["grade_id"]
        points = {g: p for g, p, _ in TASKS}.get(gid)
        if points is None:
            continue
        passed = gid not in failures
        tests[gid] = {"passed": passed, "points": float(points if passed else 0), "max_points": float(points)}
        outputs[str(index)] = ([{"output_type": "stream", "name": "stdout", "text": "tests passed\n"}] if passed
                               else failures[gid])
    return {"student": student, "key": f"key-{student}", "status": "graded", "cell_count": len(source.cells),
            "notebook": dict(source), "outputs": outputs, "tests": tests,
            "score": sum(t["points"] for t in tests.values()), "max_score": float(sum(p for _, p, _ in TASKS)),
            "flags": sorted(flags)}


ROOT = Path("/srv/course")  # where the synthetic course pretends to live
XSS = '<script>alert("pwned")</script>'


def synthetic_results() -> dict[str, dict]:
    return {
        "alice": graded("alice", {}),
        "bob": graded("bob", {
            "test-beta": error("AssertionError", "loss is wrong at index 3: expected 0.25, got 0.5. "
                                                 "Read /home/student/bob/notes.txt again")},
            flags=("input-transformer: cell beta adds an input transformer",)),
        "carol.smith": graded("carol.smith", {
            "test-beta": error("AssertionError", "loss is wrong at index 1: expected 0.75, got 0.125. "
                                                 "Read /home/student/carol.smith/notes.txt again"),
            "test-gamma": student_raised("gamma", "c0ffee12", 3, "raise NotImplementedError()  # Carol.Smith was here")}),
        "dave": graded("dave", {
            "test-alpha": error("ValueError", f"bad input {XSS} from dave"),
            "test-gamma": student_raised("gamma", "deadbeef", 7, "raise NotImplementedError()")},
            flags=(f"refused-file: {XSS}.npy is a FIFO; it was not copied", "timeout: cell gamma ran past 60 s")),
        "erin": graded("erin", {"test-alpha": [{"output_type": "stream", "name": "stderr",
                                                "text": "RuntimeWarning: divide by zero\n"}]}),
        "mallory": {"student": "mallory", "key": "k", "status": "malformed", "score": 0.0, "flags": [],
                    "reason": f"invalid JSON in {ROOT}/autograder/var/submitted/mallory/{ASSIGNMENT}/{ASSIGNMENT}.ipynb: "
                              f"line 1 {XSS}"},
        "oscar": {"student": "oscar", "key": "error:k", "status": "error", "score": 0.0, "flags": [],
                  "reason": "the grader failed: RuntimeError: boom"},
    }


# Tasks passed, per student (graded ones): the expected pass rates follow from it.
PASSED = {"test-alpha": {"alice", "bob", "carol.smith"}, "test-beta": {"alice", "dave", "erin"},
          "test-gamma": {"alice", "bob", "erin"}}


def section(page: str, name: str) -> str:
    match = re.search(rf'<section id="{name}">(.*?)</section>', page, re.DOTALL)
    assert match, f"the page has no section {name!r}"
    return match.group(1)


def text_of(fragment: str) -> str:
    """The text a reader sees (tags removed, entities decoded), its spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("report")
    path = report.write_report(folder, ASSIGNMENT, synthetic_results(), source_notebook(), ROOT)
    assert path == folder / "report.html"
    return path.read_text()


def test_every_section_is_there_and_the_page_stands_alone(page):
    for name in ("summary", "distribution", "tasks", "failures", "flagged", "students"):
        section(page, name)
    assert '<meta name="viewport"' in page and "prefers-color-scheme: dark" in page
    # Self-contained: no script, no stylesheet or image fetched, no address but the SVG namespace.
    assert not re.search(r"<script|<link|<img|<iframe|\bsrc=|@import|url\(", page, re.IGNORECASE)
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) <= {"http://www.w3.org/2000/svg"}


def test_summary_counts_and_statistics(page):
    summary = text_of(section(page, "summary"))
    scores = [r["score"] for r in synthetic_results().values() if r["status"] == "graded"]
    stat = lambda name: re.search(rf"\b{name}\s+(\S+)", summary).group(1)  # noqa: E731
    assert (stat("submissions"), stat("graded"), stat("gradable"), stat("flagged")) == ("7", "5", "2", "2")
    assert float(stat("mean")) == pytest.approx(statistics.fmean(scores), abs=0.05)
    assert float(stat("median")) == statistics.median(scores)
    assert (float(stat("lowest")), float(stat("highest")), stat("marks")) == (min(scores), max(scores), "100")
    assert "1 malformed" in summary and "1 grader error" in summary
    assert "input-transformer 1" in summary and "refused-file 1" in summary and "timeout 1" in summary


def test_pass_rates_per_task(page):
    rows = dict(re.findall(r'<tr data-grade-id="([^"]+)">(.*?)</tr>', section(page, "tasks"), re.DOTALL))
    assert list(rows) == [gid for gid, _, _ in TASKS]
    for gid, points, title in TASKS:
        row = text_of(rows[gid])
        passed = len(PASSED[gid])
        assert title in row and f"({points} points)" not in row, row  # the heading, without its points
        assert re.search(rf"\b{points}\s+{passed} of 5\s+{round(100 * passed / 5)}%", row), row


def test_failure_messages_are_grouped_and_anonymous(page):
    failures = section(page, "failures")
    rows = re.findall(r'<tr class="failure"><td[^>]*>(\d+)</td><td[^>]*><code>([^<]+)</code>(.*?)</tr>', failures, re.DOTALL)
    groups = [(int(count), gid) for count, gid, _ in rows]
    # beta: two assertion messages that differ in numbers and paths; gamma: two NotImplementedErrors
    # from the students' own functions, whose tracebacks differ; alpha: a ValueError and a warning.
    assert sorted(groups) == sorted([(2, "test-beta"), (2, "test-gamma"), (1, "test-alpha"), (1, "test-alpha")])
    assert groups[:2] == [(2, "test-beta"), (2, "test-gamma")]  # the most frequent first, in task order
    variants = {gid: re.search(r"(\d+) variants", rest) for count, gid, rest in rows if int(count) == 2}
    assert variants["test-beta"] and variants["test-beta"][1] == "2" and not variants["test-gamma"]
    shown = text_of(failures)
    assert "loss is wrong at index" in shown and "divide by zero" in shown
    assert "NotImplementedError: raised by your gamma()" in shown and "was here" not in shown  # no student code
    for student in synthetic_results():
        assert not re.search(re.escape(student), shown, re.IGNORECASE), f"{student}'s id is in the failure messages"
    assert "/home/" not in shown and "notes.txt" not in shown and "<path>" in shown and "<student>" in shown
    assert "ipython-input" not in shown


def test_flagged_and_ungradable_students_are_listed_with_why(page):
    flagged = section(page, "flagged")
    rows = dict(re.findall(r'<tr class="flagged" data-student="([^"]+)">(.*?)</tr>', flagged, re.DOTALL))
    assert set(rows) == {"bob", "dave", "mallory", "oscar"}
    assert "input-transformer" in text_of(rows["bob"]) and "adds an input transformer" in text_of(rows["bob"])
    dave = text_of(rows["dave"])
    assert "refused-file" in dave and "timeout" in dave and "ran past 60 s" in dave and XSS in dave
    mallory = text_of(rows["mallory"])
    assert "malformed" in mallory and "invalid JSON" in mallory
    assert f"autograder/var/submitted/mallory/{ASSIGNMENT}" in mallory and str(ROOT) not in mallory  # relative
    assert "grader error" in text_of(rows["oscar"]) and "RuntimeError: boom" in text_of(rows["oscar"])
    # The failure messages stay out of it, named students or not.
    assert "wrong at index" not in flagged and "bad input" not in flagged and "NotImplementedError" not in flagged


def test_everything_from_a_submission_is_escaped(page):
    assert "<script" not in page.lower()
    assert page.count(html.escape(XSS)) >= 3  # dave's message and flag, mallory's reason
    assert 'data-student="carol.smith"' in page


def test_the_histogram_is_drawn_with_full_marks_and_mean(page):
    svg = section(page, "distribution")
    assert '<svg class="histogram"' in svg and 'role="img"' in svg and "<title" in svg
    counts = [int(c) for c in re.findall(r'<rect class="bar" data-count="(\d+)"', svg)]
    assert sum(counts) == 5  # the graded ones; the malformed and the failed grading have no score
    assert "full marks 100" in svg and re.search(r">mean [\d.]+<", svg)


def test_every_student_has_a_row_with_their_score(page):
    rows = dict(re.findall(r'<tr class="student" data-student="([^"]+)" data-score="([^"]+)">', page))
    results = synthetic_results()
    assert rows == {s: report.fmt(r["score"]) if r["status"] == "graded" else "–" for s, r in results.items()}


def test_scrubbing_keeps_formulas_and_ratios():
    scrub = report.scrubber(["ann", "b"])
    assert scrub("(p - y)/N and 1/2 for Ann, see /home/student/ann/x.npy") == "(p - y)/N and 1/2 for <student>, see <path>"
    assert scrub("a b c") == "a b c"  # a one-letter id is removed from paths only
    assert scrub("annotated by anne") == "annotated by anne"  # whole words only
    assert report.group_key("expected 0.25, got -1e-3 at (2, 3)") == "expected #, got # at (#, #)"
    assert report.group_key("float64 array") == "float64 array"
    assert report.without_student_code('wrong\n(raised by your f(); traceback:\n  File "<cell>", line 2\n    x = 1 / 0)') \
        == "wrong (raised by your f())"


def test_make_grade_writes_the_page_and_prints_its_path(tmp_path, capsys):
    """grade.write_reports (the last step of `make grade`) on a course whose grading is already done."""
    course = grade.Course(tmp_path, ASSIGNMENT)
    course.source.parent.mkdir(parents=True)
    nbformat.write(source_notebook(), course.source)
    course.reports.mkdir(parents=True)
    results = synthetic_results()
    grade.write_reports(course, results)
    page = (course.reports / "report.html").read_text()
    assert 'data-student="mallory"' in page and "3 of 5" in page
    grade.print_summary(course, results, 0, 1.0)
    assert f"report page: {course.reports / 'report.html'}" in capsys.readouterr().out


def test_an_exercise_with_no_graded_submission_still_gets_a_page(tmp_path):
    only_malformed = {"zoe": {"status": "malformed", "reason": "not JSON", "score": 0.0, "flags": []}}
    page = report.write_report(tmp_path, ASSIGNMENT, only_malformed, source_notebook()).read_text()
    assert "No submission was graded." in page and "No test failed." in page and 'data-student="zoe"' in page
    assert "0 of 0" in page


# -- slow: the real pipeline and a browser ------------------------------------------------------
@pytest.mark.slow
def test_grade_demo_writes_a_report_with_the_three_scores(tmp_path, monkeypatch):
    from autograder import demo

    # As book/instructors.md runs it, without the environment's bin/ on PATH: the grader finds its
    # own tools (nbgrader's gradebook runs `alembic` by name).
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    root = tmp_path / "course"
    scores = demo.run(root, workers=2)
    page = (root / "autograder" / "var" / "reports" / demo.ASSIGNMENT / "report.html").read_text()
    rows = dict(re.findall(r'<tr class="student" data-student="([^"]+)" data-score="([^"]+)">', page))
    assert rows == {student: report.fmt(score) for student, score in scores.items()}
    source = nbformat.read(root / "solutions" / demo.ASSIGNMENT / f"{demo.ASSIGNMENT}.ipynb", as_version=4)
    first_test = f"test-{demo.first_answer(source)}"
    tasks = dict(re.findall(r'<tr data-grade-id="([^"]+)">(.*?)</tr>', page, re.DOTALL))
    assert "2 of 3" in text_of(tasks[first_test])  # the solution and the partial one
    assert all("1 of 3" in text_of(row) for gid, row in tasks.items() if gid != first_test)
    assert "NotImplementedError" in text_of(section(page, "failures"))
    assert not [s for s in scores if s in text_of(section(page, "failures"))]


@pytest.mark.slow
def test_the_page_reads_in_light_and_dark_mode_and_on_a_phone(page, tmp_path):
    from tests.browser_helpers import CONTRAST_FAILURES_JS, chromium, static_server, watched_page

    path = tmp_path / "report.html"
    path.write_text(page)
    with static_server(tmp_path) as url, chromium() as browser:
        problems = []
        for scheme, width in (("light", 1280), ("dark", 1280), ("light", 390)):
            context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
            watched = watched_page(context)
            watched.page.goto(f"{url}/report.html")
            watched.page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
            problems += [f"{scheme}, {width} px: contrast {f['ratio']} < {f['needed']}: {f['text']!r} ({f['where']})"
                         for f in watched.page.evaluate(CONTRAST_FAILURES_JS)]
            scroll_width = watched.page.evaluate("() => document.documentElement.scrollWidth")
            if scroll_width > width:
                problems.append(f"{scheme}, {width} px: the page is {scroll_width} px wide")
            problems += [f"console error: {e}" for e in watched.errors] + [f"request: {r}" for r in watched.foreign]
            context.close()
    assert not problems, "\n".join(problems)
