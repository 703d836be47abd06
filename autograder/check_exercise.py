"""Check one exercise while it is written: its release, its rules, and its grading in the sandbox.

    python -m autograder.check_exercise ID [--no-grade]

1. regenerates ``notebooks/ID/ID.ipynb`` from ``solutions/ID/ID.ipynb`` (as ``make release`` does,
   in a throw-away course, so that the course's gradebook is not touched);
2. checks the rules of ``autograder/rules.py``: no answer name is a callable of the package, the
   release imports no reference, and no answer's code is printed in the book or the package;
3. grades the solution (it must score 100, unflagged) and the untouched release (it must score 0)
   with the sandboxed grader, and prints the time each took.

It exits non-zero when a rule or a grade fails; ``make test`` checks the same for every exercise.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from autograder import rules
from autograder.demo import answered
from autograder.nbgrader_cli import REPO, assignments, nbgrader


def release(assignment: str, root: Path) -> Path:
    shutil.copytree(REPO / "solutions" / assignment, root / "solutions" / assignment)
    nbgrader("generate_assignment", assignment, "--force", root=root)
    fresh = root / "notebooks" / assignment / f"{assignment}.ipynb"
    target = REPO / "notebooks" / assignment / f"{assignment}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(fresh, target)
    return fresh


def rule_problems(assignment: str) -> list[str]:
    source = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    release_nb = nbformat.read(REPO / "notebooks" / assignment / f"{assignment}.ipynb", as_version=4)
    callables = rules.package_callables()
    problems = [f"answer name {name!r} is a callable of {', '.join(callables[name])}: pick another name"
                for name in rules.answer_names(source) if name in callables]
    problems += rules.release_import_problems(release_nb)
    problems += rules.printed_answer_code(source, rules.book_and_package_texts(REPO))
    return problems


def grade_both(assignment: str, root: Path) -> dict[str, dict]:
    from autograder.grade import grade

    notebook = f"{assignment}.ipynb"
    source = nbformat.read(root / "solutions" / assignment / notebook, as_version=4)
    release_nb = nbformat.read(root / "notebooks" / assignment / notebook, as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"] for c in rules.answer_cells(source)}
    for student, nb in {"solution": answered(release_nb, source, answers), "untouched": release_nb}.items():
        folder = root / "autograder" / "var" / "submitted" / student / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / notebook)
    return grade(assignment, root=root, workers=2, feedback=False, quiet=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.check_exercise", description=__doc__.split("\n")[0])
    parser.add_argument("assignment", choices=assignments())
    parser.add_argument("--no-grade", action="store_true", help="skip step 3 (the sandboxed grading)")
    args = parser.parse_args(argv)
    failed = False
    with tempfile.TemporaryDirectory(prefix="check-exercise-") as tmp:
        root = Path(tmp) / "course"
        release(args.assignment, root)
        print(f"released notebooks/{args.assignment}/{args.assignment}.ipynb")
        problems = rule_problems(args.assignment)
        for problem in problems:
            print(f"RULE: {problem}")
        failed |= bool(problems)
        print(f"rules: {'broken, see above' if problems else 'all hold'}")
        if not args.no_grade:
            started = time.monotonic()
            results = grade_both(args.assignment, root)
            print(f"graded the solution and the untouched release in {time.monotonic() - started:.1f} s (2 workers)")
            for student, expected in (("solution", 100.0), ("untouched", 0.0)):
                r = results[student]
                tests = ", ".join(f"{gid} {t['points']:g}/{t['max_points']:g}" for gid, t in r.get("tests", {}).items())
                print(f"  {student}: {r['status']} {r.get('score', 0):g}/{r.get('max_score', 0):g} [{tests}]"
                      f"{' reason: ' + r['reason'] if r.get('reason') else ''}")
                for flag in r.get("flags", []):
                    print(f"    flag: {flag}")
                ok = r["status"] == "graded" and float(r.get("score", -1)) == expected and \
                    (expected == 0 or not r.get("flags"))
                if not ok:
                    failed = True
                    print(f"  FAIL: the {student} should score {expected:g}" + (" with no flag" if expected else ""))
                    for index, outputs in sorted(r.get("outputs", {}).items(), key=lambda kv: int(kv[0])):
                        for out in outputs:
                            if out.get("output_type") == "error":
                                print(f"    cell {index}: {out['ename']}: {out['evalue'][:600]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
