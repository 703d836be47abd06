"""`make hub`, first step (as root): the class's accounts, exchange and Jupyter settings.

    python -m autograder.hub.setup_class --root /srv/seqmodels --instructor instructor \
        --students student1 student2 student3

Idempotent: run again, it keeps the passwords and submissions and adds what is missing.

- **Accounts**: one local Unix account per person, home 0700, in a group of its own; the
  instructor is also in the staff group. Each gets a random password (set with ``chpasswd``)
  listed in ``<root>/accounts.txt`` (root only, 0600): hand them out, or replace them.
- **Exchange** ``<root>/exchange/<course>/``: see ``autograder/hub/exchange.py`` for who may
  do what; ``inbound/<student>/`` per student.
- **Jupyter settings for every user** ``<root>/jupyter/`` (the hub puts it on each server's
  JUPYTER_CONFIG_PATH): the course id, the exchange and its classes, and the lab settings of
  ``lab_config/settings`` (chapters open as notebooks; no news fetched); and for students only
  ``<root>/jupyter-students/``: nbgrader's instructor tools (Formgrader, Create Assignment) off.
- **The instructor's course** ``~instructor/<course>/``: the source notebooks (copied from
  ``solutions/``), the gradebook and everything grading writes, with an ``nbgrader_config.py``
  that loads the course's; the instructor works from there (``nbgrader ...``,
  ``python -m autograder.grade --root ~/<course>``).
- **The checkout**: students' servers run its ``.venv``, so it must be readable on the way
  there; ``solutions/``, ``autograder/var/`` and ``.git`` (which holds every solution) lose all
  rights for other users.
"""
from __future__ import annotations

import argparse
import grp
import json
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# nbgrader's exchange operations and the classes of autograder/hub/exchange.py that do them.
EXCHANGE = {"release_assignment": "ReleaseAssignment", "fetch_assignment": "FetchAssignment", "list": "List",
            "submit": "Submit", "collect": "Collect", "release_feedback": "ReleaseFeedback",
            "fetch_feedback": "FetchFeedback"}
PRIVATE = ["solutions", "autograder/var", ".git"]  # hidden tests, gradebooks, history


def run(*cmd: str, input: str | None = None) -> None:
    subprocess.run(cmd, check=True, input=input, text=True, stdout=subprocess.DEVNULL)


def ensure_group(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        run("groupadd", name)
        return grp.getgrnam(name).gr_gid


def ensure_user(name: str) -> pwd.struct_passwd:
    try:
        pwd.getpwnam(name)
    except KeyError:
        run("useradd", "--create-home", "--user-group", "--shell", "/bin/bash", name)
    user = pwd.getpwnam(name)
    os.chmod(user.pw_dir, 0o700)
    return user


def folder(path: Path, mode: int, uid: int = 0, gid: int = 0) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, uid, gid)
    os.chmod(path, mode)  # after chown, which clears setgid


def readable_by_others(path: Path) -> Path | None:
    """The first folder on the way to ``path`` that other users cannot pass, if any."""
    for p in [*reversed(path.parents), path]:
        if not os.stat(p).st_mode & stat.S_IXOTH:
            return p
    return None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=Path("/srv/seqmodels"))
    ap.add_argument("--course", default="seqmodels")
    ap.add_argument("--instructor", default="instructor")
    ap.add_argument("--students", nargs="+", default=["student1", "student2", "student3"])
    ap.add_argument("--staff-group", default="seqmodels-staff")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("make hub creates Unix accounts and runs each user's server as that user: run it as root "
                 "(sudo make hub).")
    venv = REPO / ".venv" / "bin" / "jupyterhub-singleuser"
    # The servers run the environment's interpreter, and the Python it was made from.
    for needed in [venv.parent, (REPO / ".venv" / "bin" / "python").resolve().parent]:
        blocked = readable_by_others(needed)
        if blocked is not None:
            sys.exit(f"Every user's server runs {venv} (Python in {needed}), but other users cannot "
                     f"enter {blocked}. Make the course's environment with a Python all accounts can "
                     f"run (Debian's python3.11, say) in a checkout all accounts can enter.")

    root = args.root.resolve()
    staff = ensure_group(args.staff_group)
    instructor = ensure_user(args.instructor)
    run("usermod", "--append", "--groups", args.staff_group, args.instructor)
    students = [ensure_user(s) for s in args.students]

    folder(root, 0o755)
    accounts_file = root / "accounts.txt"
    known = dict(line.split(":", 1) for line in accounts_file.read_text().split()) if accounts_file.exists() else {}
    accounts = {u.pw_name: known.get(u.pw_name) or secrets.token_urlsafe(12) for u in [instructor, *students]}
    run("chpasswd", input="".join(f"{name}:{password}\n" for name, password in accounts.items()))
    accounts_file.touch(mode=0o600)
    os.chmod(accounts_file, 0o600)
    accounts_file.write_text("".join(f"{name}:{password}\n" for name, password in accounts.items()))
    (root / "class.json").write_text(json.dumps(
        {"course": args.course, "instructor": args.instructor, "students": args.students}, indent=1))
    folder(root / "hub", 0o700)  # the hub's database and cookie secret

    # The exchange: see exchange.py.
    iuid = instructor.pw_uid
    exchange = root / "exchange"
    folder(exchange, 0o755)
    course = exchange / args.course
    folder(course, 0o755, iuid, instructor.pw_gid)
    folder(course / "outbound", 0o755, iuid, instructor.pw_gid)
    folder(course / "feedback", 0o711, iuid, instructor.pw_gid)
    folder(course / "inbound", 0o711, iuid, staff)
    for s in students:
        folder(course / "inbound" / s.pw_name, 0o2750, s.pw_uid, staff)

    # Every user's Jupyter settings.
    jupyter = root / "jupyter"
    folder(jupyter, 0o755)
    (jupyter / "nbgrader_config.py").write_text(
        "# Written by `make hub` (autograder/hub/setup_class.py): the class's course and exchange.\n"
        "c = get_config()\n"
        f"c.CourseDirectory.course_id = {args.course!r}\n"
        f"c.Exchange.root = {str(exchange)!r}\n"
        + "".join(f"c.ExchangeFactory.{op} = 'autograder.hub.exchange.{cls}'\n" for op, cls in EXCHANGE.items()))
    (jupyter / "jupyter_server_config.py").write_text(
        "# Written by `make hub`: the course's lab settings (chapters open as notebooks, no news).\n"
        "c = get_config()\n"
        f"c.LabApp.app_settings_dir = {str(REPO / 'lab_config' / 'settings')!r}\n"
        "# A terminal's shell keeps the server's PATH (the course's .venv/bin first): started by the hub,\n"
        "# Jupyter would run a login shell, whose /etc/profile puts Debian's default PATH back.\n"
        "c.ServerApp.terminado_settings = {'shell_command': ['/bin/bash']}\n")
    for f in jupyter.iterdir():
        os.chmod(f, 0o644)
    # Students' servers also read jupyter-students/: no Formgrader, course list or Create Assignment
    # (the instructor's tools; a student has no gradebook to show).
    students_dir = root / "jupyter-students"
    folder(students_dir, 0o755)
    folder(students_dir / "labconfig", 0o755)
    (students_dir / "jupyter_server_config.py").write_text(
        "# Written by `make hub`: nbgrader's instructor extensions are off for students.\n"
        "c = get_config()\n"
        "c.ServerApp.jpserver_extensions.update({'nbgrader.server_extensions.formgrader': False,\n"
        "                                        'nbgrader.server_extensions.course_list': False})\n")
    (students_dir / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": {
        f"@jupyter/nbgrader:{name}": True for name in ("formgrader", "course-list", "create-assignment")}}))

    # The instructor's course: sources, gradebook, submissions, feedback.
    home = Path(instructor.pw_dir) / args.course
    home.mkdir(exist_ok=True)
    shutil.copytree(REPO / "solutions", home / "solutions", dirs_exist_ok=True)
    (home / "nbgrader_config.py").write_text(
        "# Written by `make hub`: the course's nbgrader settings, in this folder, with the hub's exchange.\n"
        "c = get_config()\n"
        f"load_subconfig({str(REPO / 'autograder' / 'nbgrader_config.py')!r})\n"
        f"load_subconfig({str(jupyter / 'nbgrader_config.py')!r})\n"
        f"c.CourseDirectory.root = {str(home)!r}\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(home / 'gradebook.db')!r}\n")
    # Formgrader reads nbgrader_config.py from Jupyter's configuration path: the user's ~/.jupyter.
    dot_jupyter = Path(instructor.pw_dir) / ".jupyter"
    dot_jupyter.mkdir(exist_ok=True)
    (dot_jupyter / "nbgrader_config.py").write_text(
        "# Written by `make hub`: Formgrader shows the course in ~/" + args.course + ".\n"
        f"load_subconfig({str(home / 'nbgrader_config.py')!r})\n")
    run("chown", "-R", f"{args.instructor}:{args.instructor}", str(home), str(dot_jupyter))

    for name in PRIVATE:
        if (REPO / name).exists():
            os.chmod(REPO / name, os.stat(REPO / name).st_mode & ~0o007)
    print(f"The class is ready in {root}: {len(students)} students, instructor {args.instructor}; "
          f"passwords in {accounts_file} (root only).")


if __name__ == "__main__":
    main()
