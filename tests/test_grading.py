"""The grading pipeline: `make grade-demo`, serial = parallel, resuming after kill -9, a PostgreSQL
gradebook on a real server, refusing to run without a sandbox. (The adversarial submissions are in
test_autograder_redteam.py.)

The demo course is graded ONCE per module (``demo_course``); the tests that need a course of their
own copy it, cached results included, so that they grade only what they add.
"""
from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup

from autograder import demo, grade, rules
from autograder.nbgrader_cli import REPO, nbgrader
from autograder.sandbox import Limits

pytestmark = pytest.mark.slow  # builds, grades or drives a browser: `-m "not slow"` skips it

NOTEBOOK = f"{demo.ASSIGNMENT}.ipynb"


def load_results(root, assignment=demo.ASSIGNMENT):
    folder = root / "autograder" / "var" / "grading" / assignment / "results"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


@pytest.fixture(scope="module")
def demo_course(tmp_path_factory) -> tuple[Path, dict[str, float]]:
    """`make grade-demo`'s course, graded by the secure grader with 2 workers: (root, scores)."""
    root = tmp_path_factory.mktemp("demo") / "course"
    return root, demo.run(root, workers=2)


@pytest.fixture
def venv_on_path(monkeypatch):
    """nbgrader's Gradebook, opened in this process, runs the environment's `alembic` by name."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def copy_course(demo_course, destination: Path) -> Path:
    shutil.copytree(demo_course[0], destination, symlinks=True)
    return destination


def test_grade_demo_scores_and_outputs(demo_course):
    root, scores = demo_course
    source = nbformat.read(root / "solutions" / demo.ASSIGNMENT / NOTEBOOK, as_version=4)
    assert scores == {"demo-solution": 100.0, "demo-untouched": 0.0, "demo-partial": demo.first_task_points(source)}

    reports = root / "autograder" / "var" / "reports" / demo.ASSIGNMENT
    assert {line.split(",")[3] for line in (reports / "grades.csv").read_text().splitlines()[1:]} == set(scores)
    release = (root / "notebooks" / demo.ASSIGNMENT / NOTEBOOK).read_text()
    hidden_only = rules.hidden_only_names(source, release)
    assert hidden_only, "the hidden tests should have names of their own to look for"
    for student in scores:
        feedback = root / "autograder" / "var" / "feedback" / student / demo.ASSIGNMENT / f"{demo.ASSIGNMENT}.html"
        assert feedback.is_file(), f"no feedback for {student}"
        html = feedback.read_text()
        assert "Task 1" in html
        assert not [name for name in hidden_only if name in html], f"{student}'s feedback reveals hidden tests"
    # Grading never modifies what students submitted.
    submitted = root / "autograder" / "var" / "submitted" / "demo-untouched" / demo.ASSIGNMENT / NOTEBOOK
    assert submitted.read_bytes() == (root / "notebooks" / demo.ASSIGNMENT / NOTEBOOK).read_bytes()


def test_kill_9_mid_run_then_a_serial_rerun_grades_everyone_once_as_the_parallel_run_did(demo_course, tmp_path, venv_on_path):
    """Three late students submit copies of the three demo notebooks. A serial grader (1 worker) is
    killed with SIGKILL after the first; a serial re-run grades the other two. Each must then hold
    exactly what the parallel run gave its demo twin (outputs, tests, score, flags)."""
    root = copy_course(demo_course, tmp_path / "course")
    submitted = root / "autograder" / "var" / "submitted"
    twins = {f"late-{i}": demo_student for i, demo_student in enumerate(sorted(demo_course[1]))}
    for late, twin in twins.items():
        (submitted / late / demo.ASSIGNMENT).mkdir(parents=True)
        shutil.copyfile(submitted / twin / demo.ASSIGNMENT / NOTEBOOK, submitted / late / demo.ASSIGNMENT / NOTEBOOK)
    results = root / "autograder" / "var" / "grading" / demo.ASSIGNMENT / "results"
    before = set(load_results(root))
    command = [sys.executable, "-m", "autograder.grade", demo.ASSIGNMENT, "--root", str(root), "--workers", "1"]
    child = subprocess.Popen(command, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while len(list(results.glob("late-*.json"))) < 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(child.pid, signal.SIGKILL)  # the grader, its workers and their sandboxes, at once
    child.wait()
    done_before_kill = set(load_results(root)) - before
    assert 1 <= len(done_before_kill) < 3, "the kill came too late to test resuming"

    again = grade.grade(demo.ASSIGNMENT, root=root, workers=1, feedback=False, quiet=True)
    assert set(again) == before | set(twins)
    for late, twin in twins.items():
        serial, parallel = dict(again[late]), dict(again[twin])
        assert serial.pop("student") == late and parallel.pop("student") == twin
        assert serial == parallel, f"{late}, graded serially, differs from {twin}, graded in parallel"
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        graded = [s.student.id for s in gradebook.assignment_submissions(demo.ASSIGNMENT)]
        assert sorted(graded) == sorted(again)  # each student exactly once
        assert gradebook.find_submission(demo.ASSIGNMENT, "late-1").score == demo_course[1][twins["late-1"]]


def test_a_relative_root_grades_as_an_absolute_one(demo_course, tmp_path):
    """`python -m autograder.grade ID --root .` from the course folder, as the hub's guide has the
    instructor type it: the sandbox binds folders by path, and a relative one ran nothing."""
    root = copy_course(demo_course, tmp_path / "course")
    shutil.rmtree(root / "autograder" / "var" / "grading")
    done = subprocess.run([sys.executable, "-m", "autograder.grade", demo.ASSIGNMENT, "--root", ".", "--workers", "2"],
                          cwd=root, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    scores = {student: r["score"] for student, r in load_results(root).items()}
    assert scores == demo_course[1], f"graded from --root .: {scores}\n{done.stdout}"


def test_plain_nbgrader_autograde_refuses_to_run_a_submission(demo_course, tmp_path):
    """Formgrader's autograde button runs plain ``nbgrader autograde``, which would execute a
    submission with the instructor's rights. With the course's configuration it stops, naming the
    sandboxed grader, and runs nothing of the submission; the benchmarks' baseline configuration
    (nbgrader's own Execute) does run it, so the refusal is the configuration's doing."""
    root = copy_course(demo_course, tmp_path / "course")
    canary = tmp_path / "the submission ran"
    folder = root / "autograder" / "var" / "submitted" / "mallory" / demo.ASSIGNMENT
    folder.mkdir(parents=True)
    nb = nbformat.read(root / "notebooks" / demo.ASSIGNMENT / NOTEBOOK, as_version=4)
    answer = next(c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution"))
    answer.source = f"open({str(canary)!r}, 'w').write('ran')\n" + answer.source
    nbformat.write(nb, folder / NOTEBOOK)
    command = ("autograde", demo.ASSIGNMENT, "--student", "mallory", "--force")

    refused = nbgrader(*command, root=root, check=False)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0, f"plain autograde was not refused:\n{said[-2000:]}"
    assert f"python -m autograder.grade {demo.ASSIGNMENT}" in said, said[-2000:]
    assert not canary.exists(), "the refused autograde ran the submission"
    assert not list((root / "autograder" / "var" / "autograded").glob("mallory/**/*.ipynb")), "it left a graded copy"

    baseline = nbgrader(*command, root=root, config=REPO / "benchmarks" / "plain_nbgrader_config.py", check=False)
    assert canary.exists(), f"nbgrader's own Execute did not run the submission:\n{(baseline.stdout + baseline.stderr)[-2000:]}"


def test_a_submissions_script_never_reaches_the_instructors_pages(demo_course, tmp_path, venv_on_path):
    """Formgrader renders each graded notebook, and serves the files of its folder, from the
    instructor's own server: a student's <script> or onerror= there would run with the instructor's
    session. The manual-grading page and the feedback are sanitized, and a submission's other files
    never reach the graded folder. The same page unsanitized does carry the script: the check can fail."""
    from nbconvert import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import PyFileConfigLoader

    root = copy_course(demo_course, tmp_path / "course")
    folder = root / "autograder" / "var" / "submitted" / "mallory" / demo.ASSIGNMENT
    folder.mkdir(parents=True)
    nb = nbformat.read(root / "notebooks" / demo.ASSIGNMENT / NOTEBOOK, as_version=4)
    payload = "<script>window.owned = 1</script><img src=x onerror=\"window.owned = 2\">"
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(f"Notes. {payload}"))
    nbformat.write(nb, folder / NOTEBOOK)
    (folder / "page.html").write_text(f"<html><body>{payload}</body></html>")
    (folder / "timestamp.txt").write_text("2026-12-06 11:50:55.123456 UTC")  # what nbgrader collect writes
    (folder / "submission_secret.txt").write_text("4f1c")
    grade.grade(demo.ASSIGNMENT, root=root, workers=1, quiet=True)

    graded = root / "autograder" / "var" / "autograded" / "mallory" / demo.ASSIGNMENT
    assert sorted(p.name for p in graded.iterdir()) == sorted([NOTEBOOK, *grade.NBGRADER_FILES]), \
        "a submission's own files reached autograded/, or nbgrader's did not"
    # nbgrader's did: late penalties, and Formgrader's "graded" state, compare its time with the submission's.
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        stamp = gradebook.find_submission(demo.ASSIGNMENT, "mallory").timestamp
    assert stamp.strftime("%Y-%m-%d %H:%M:%S.%f") == "2026-12-06 11:50:55.123456", stamp
    feedback = (root / "autograder" / "var" / "feedback" / "mallory" / demo.ASSIGNMENT / f"{demo.ASSIGNMENT}.html").read_text()
    # Formgrader's page: its exporter, configured as Formgrader configures it, from the course's file.
    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO / "autograder")).load_config()
    config.HTMLExporter.template_name = "formgrade"
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    resources = {"assignment_id": demo.ASSIGNMENT, "notebook_id": demo.ASSIGNMENT, "submission_id": "x", "index": 0,
                 "total": 1, "base_url": "", "student": "mallory", "last_name": "", "first_name": "",
                 "notebook_path": ""}
    exporter = HTMLExporter(config=config)
    page, _ = exporter.from_filename(str(graded / NOTEBOOK), resources=dict(resources))

    def active(html: str) -> list[str]:
        """The student's script where a browser would run it: a <script>, an on... attribute."""
        soup = BeautifulSoup(html, "html.parser")
        return ([str(t)[:80] for t in soup.find_all("script") if "window.owned" in t.get_text()]
                + [str(t)[:80] for t in soup.find_all(True) if any(a.startswith("on") and "window.owned" in str(v)
                                                                  for a, v in t.attrs.items())])

    for name, html in (("Formgrader's page", page), ("the feedback", feedback)):
        assert "Notes." in html, f"{name} lost the student's cell"
        assert not active(html), f"{name} carries the student's script: {active(html)}"
    # The submission itself, rendered the same way, does: the check can fail.
    raw, _ = exporter.from_notebook_node(nb, resources=dict(resources))
    assert len(active(raw)) == 2, active(raw)


# -- a PostgreSQL gradebook, on a real local server ------------------------------------------
def postgres_binaries() -> Path:
    """The folder of PostgreSQL's initdb, pg_ctl and postgres: on PATH, or Debian's /usr/lib/postgresql/<v>/bin."""
    def version(folder: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", folder.parent.name)) or (0,)

    found = shutil.which("pg_ctl")
    candidates = ([Path(found).resolve().parent] if found else []) + \
        sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    pytest.fail("PostgreSQL's server programs (initdb, pg_ctl, postgres) are neither on PATH nor in "
                "/usr/lib/postgresql/<version>/bin: install Debian's `postgresql` package (`.ci/run` does: "
                "apt-get install postgresql)")


def server_account() -> tuple[int, int]:
    """(uid, gid) to run the server as: ours, or, since PostgreSQL refuses to run as root, an unprivileged one."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    for name in ("postgres", "nobody"):  # Debian's package creates `postgres`
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
    pytest.fail("running as root, and no unprivileged account (postgres, nobody) to run PostgreSQL's server as")


@contextlib.contextmanager
def postgresql_server():
    """A throw-away PostgreSQL server listening on a unix socket in a temporary folder; yields that folder."""
    binaries = postgres_binaries()
    uid, gid = server_account()
    # Not under pytest's tmp_path: its parent is private to the user running the tests.
    folder = Path(tempfile.mkdtemp(prefix="gradebook-postgres-"))
    os.chown(folder, uid, gid)
    as_server = {"user": uid, "group": gid, "extra_groups": []} if uid != os.geteuid() else {}

    def run(*command: str) -> None:
        done = subprocess.run([str(binaries / command[0]), *command[1:]], capture_output=True, text=True,
                              cwd=folder, **as_server)
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}"

    data = folder / "data"
    try:
        run("initdb", "--pgdata", str(data), "--username", "grader", "--auth", "trust", "--encoding", "UTF8", "--no-sync")
        run("pg_ctl", "--pgdata", str(data), "--log", str(folder / "server.log"), "--wait", "--options",
            f"-c listen_addresses='' -c unix_socket_directories='{folder}' -c fsync=off", "start")
        try:
            yield folder
        finally:
            run("pg_ctl", "--pgdata", str(data), "--mode", "fast", "--wait", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def gradebook_contents(db_url: str) -> dict:
    """Every submission of the demo exercise in a gradebook: {student: (score, max, {grade cell: score})}."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gradebook:
        return {s.student.id: (s.score, s.max_score, {g.name: g.score for nb in s.notebooks for g in nb.grades})
                for s in gradebook.assignment_submissions(demo.ASSIGNMENT)}


def test_postgresql_gradebook_holds_what_the_sqlite_one_does(demo_course, tmp_path, venv_on_path):
    import psycopg2

    root = copy_course(demo_course, tmp_path / "course")
    with postgresql_server() as socket_folder:
        with contextlib.closing(psycopg2.connect(host=str(socket_folder), user="grader", dbname="postgres")) as admin:
            admin.autocommit = True
            admin.cursor().execute("CREATE DATABASE gradebook")
        db_url = f"postgresql+psycopg2://grader@/gradebook?host={socket_folder}"
        results = grade.grade(demo.ASSIGNMENT, root=root, workers=2, db_url=db_url, feedback=False, quiet=True)
        in_postgres = gradebook_contents(db_url)
        with contextlib.closing(psycopg2.connect(host=str(socket_folder), user="grader", dbname="gradebook")) as db:
            cursor = db.cursor()
            cursor.execute("SELECT count(*) FROM submitted_assignment")
            assert cursor.fetchone()[0] == 3, "the grades went somewhere other than the PostgreSQL server"
    in_sqlite = gradebook_contents(f"sqlite:///{demo_course[0] / 'gradebook.db'}")
    assert in_postgres == in_sqlite
    assert {s: r["score"] for s, r in results.items()} == {s: v[0] for s, v in in_postgres.items()} == demo_course[1]


def test_grading_refuses_to_run_without_bubblewrap_unless_told_to(tmp_path, monkeypatch):
    monkeypatch.setattr(grade, "bwrap_path", lambda: None)
    with pytest.raises(SystemExit) as refused:
        grade.grade(demo.ASSIGNMENT, root=tmp_path, limits=Limits())
    assert "bubblewrap" in str(refused.value) and grade.UNSAFE_FLAG in str(refused.value)


# What a student's code prints from its folder and from the package's files: becomes its feedback.
SNOOP = '''
import os
for base, folders, files in os.walk("."):
    for name in files:
        path = os.path.join(base, name)
        try:
            with open(path, errors="replace") as f:
                print("FILE", path, f.read())
        except OSError as exc:
            print("UNREADABLE", path, exc)
'''


def test_links_fifos_and_oversized_folders_bring_nothing_of_the_graders_machine_in(demo_course, tmp_path, venv_on_path):
    """Submissions that hold a link to the instructor's solution (beside the notebook, as a folder,
    as the notebook itself, as the exercise's folder), a FIFO, or too many files: the linked
    solution never reaches the sandbox, the results or the feedback, and every case is reported."""
    root = copy_course(demo_course, tmp_path / "course")
    submitted = root / "autograder" / "var" / "submitted"
    solution_nb = REPO / "solutions" / demo.ASSIGNMENT / NOTEBOOK
    honest = submitted / "demo-solution" / demo.ASSIGNMENT / NOTEBOOK
    snooping = nbformat.read(honest, as_version=4)
    snooping.cells.insert(2, nbformat.v4.new_code_cell(SNOOP))

    def student(name: str) -> Path:
        folder = submitted / name / demo.ASSIGNMENT
        folder.mkdir(parents=True)
        return folder

    folder = student("link-beside")
    nbformat.write(snooping, folder / NOTEBOOK)
    (folder / "answers.ipynb").symlink_to(solution_nb)
    (folder / "course").symlink_to(REPO / "solutions")
    os.mkfifo(folder / "pipe")
    student("link-notebook")
    (submitted / "link-notebook" / demo.ASSIGNMENT / NOTEBOOK).symlink_to(solution_nb)
    (submitted / "link-folder").mkdir()
    (submitted / "link-folder" / demo.ASSIGNMENT).symlink_to(REPO / "solutions" / demo.ASSIGNMENT)
    (submitted / "link-student").symlink_to(REPO / "solutions", target_is_directory=True)
    folder = student("many-files")
    shutil.copyfile(honest, folder / NOTEBOOK)
    for i in range(grade.sub.MAX_FILES + 1):
        (folder / f"f{i}.txt").write_text("x")

    results = grade.grade(demo.ASSIGNMENT, root=root, workers=2, quiet=True)

    beside = results["link-beside"]
    assert beside["status"] == "graded" and beside["score"] == 100.0
    refused = sorted(flag for flag in beside["flags"] if flag.startswith("refused-file"))
    assert [f.split()[1] for f in refused] == ["answers.ipynb", "course", "pipe"], beside["flags"]
    printed = "".join(out.get("text", "") for outs in beside["outputs"].values() for out in outs)
    listed = sorted(line.split()[1] for line in printed.splitlines() if line.startswith(("FILE ./", "UNREADABLE ./")))
    assert listed == [f"./{NOTEBOOK}"], f"the sandbox saw more than the notebook: {listed}"
    for name, reason in (("link-notebook", "symbolic link"), ("link-folder", "symbolic link"),
                         ("many-files", "too many files")):
        assert results[name]["status"] == "malformed" and reason in results[name]["reason"], results[name]
    # link-student is a link to solutions/, which holds an exercise folder: it must not be graded from there.
    assert results.get("link-student", {"status": "malformed"})["status"] == "malformed"

    # Not one line of the hidden tests, anywhere the grader wrote.
    source = nbformat.read(solution_nb, as_version=4)
    shown = (REPO / "notebooks" / demo.ASSIGNMENT / NOTEBOOK).read_text() + "".join(c.source for c in rules.answer_cells(source))
    hidden = [line.strip() for cell in source.cells for line in rules.hidden_part(cell.source).splitlines()
              if len(line.strip()) > 25 and line.strip() not in shown]
    assert hidden
    # (autograded/ is nbgrader's instructor copy, which holds the hidden tests by design.)
    written = [p for p in (root / "autograder" / "var").rglob("*") if p.is_file() and not p.is_symlink()
               and not {"submitted", "autograded"} & set(p.relative_to(root).parts)
               and p.suffix in (".json", ".html", ".txt", ".csv", ".ipynb")]
    leaked = {str(p.relative_to(root)): line for p in written for line in hidden if line in p.read_text(errors="replace")}
    assert not leaked, f"the instructor's hidden tests reached: {sorted(leaked)}"
