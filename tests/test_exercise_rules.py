"""The rules that keep an exercise from being copied (``autograder/rules.py``), for every exercise:
no answer's name is a callable of the package, the release imports no reference and states no
formula of its own, no answer's code is printed in the book or the package, and the introduction
gives the expected time. The rules are shown to catch what they are for on planted examples.
(That a copied answer scores 0 in the grader is in ``test_exercise_grades.py``.)"""
from __future__ import annotations

import re

import nbformat
import pytest

from autograder import rules
from autograder.nbgrader_cli import REPO, assignments

ASSIGNMENTS = assignments()


def source_of(assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)


def release_of(assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(REPO / "notebooks" / assignment / f"{assignment}.ipynb", as_version=4)


@pytest.fixture(scope="module")
def callables() -> dict[str, list[str]]:
    return rules.package_callables()


@pytest.fixture(scope="module")
def printed() -> dict[str, str]:
    return rules.book_and_package_texts(REPO)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_answer_name_is_a_callable_of_the_package(assignment, callables):
    names = rules.answer_names(source_of(assignment))
    assert names, f"{assignment} has no answer cell"
    clashes = {name: callables[name] for name in names if name in callables}
    assert not clashes, f"answers of {assignment} that the package defines: {clashes}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_release_imports_no_reference(assignment):
    assert not rules.release_import_problems(release_of(assignment))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_hidden_test_hands_the_sandbox_a_name_the_release_imports(assignment):
    """A reference a hidden test gives the student's code (``substitute``) is its own, not a release import."""
    release_names = {name or module.split(".")[-1] for cell in release_of(assignment).cells
                     if cell.cell_type == "code" for module, name, _ in rules.imports_of(rules.visible_part(cell.source))}
    given = set()
    for cell in source_of(assignment).cells:
        for call in re.finditer(r"substitute\(globals\(\),([^)]*)\)", cell.source):
            given |= set(re.findall(r"=\s*(\w+)", call.group(1)))
    assert not given & release_names, f"{assignment}'s tests substitute release imports: {sorted(given & release_names)}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_answer_code_is_printed_in_the_book_or_the_package(assignment, printed):
    assert not rules.printed_answer_code(source_of(assignment), printed)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_introduction_states_the_time_and_what_student_code_may_use(assignment):
    intro = next(c.source for c in source_of(assignment).cells if c.cell_type == "markdown")
    assert re.search(r"\b\d+\s*(to|–|-)\s*\d+\s*minutes", intro), f"{assignment}'s introduction gives no expected time"
    assert "NumPy" in intro and "PyTorch" in intro, \
        f"{assignment}'s introduction should say that answers are NumPy code, run without PyTorch in the grader"


# -- the rules catch what they are for ---------------------------------------------------------
def notebook(*cells: tuple[str, str, dict]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    for kind, text, meta in cells:
        cell = nbformat.v4.new_code_cell(text) if kind == "code" else nbformat.v4.new_markdown_cell(text)
        cell.metadata["nbgrader"] = meta
        nb.cells.append(cell)
    return nb


LOCKED = {"grade_id": "imports", "locked": True, "solution": False, "grade": False}
ANSWER = {"grade_id": "answer", "locked": False, "solution": True, "grade": False}


@pytest.mark.parametrize("line", [
    "import torch", "import torch.nn.functional as F", "from seqlab.functional import log_softmax as reference",
    "from seqlab import lm", "import seqlab.rnn", "x = __import__('torch')", "import importlib; importlib.import_module('jax')"])
def test_a_reference_in_a_release_is_reported(line):
    assert rules.release_import_problems(notebook(("code", f"import numpy as np\n{line}", LOCKED)))


def test_helpers_and_hidden_imports_are_allowed():
    test_cell = {"grade_id": "test-answer", "locked": True, "grade": True, "solution": False, "points": 1}
    nb = notebook(("code", "import math\nimport numpy as np\nfrom seqlab.checks import check_close\n"
                           "from seqlab.gradcheck import numerical_gradient", LOCKED),
                  ("code", f"check_close('x', 1, 1)\n{rules.HIDDEN_BEGIN}\nimport torch\n{rules.HIDDEN_END}", test_cell))
    assert rules.release_import_problems(nb) == []


def test_copied_package_code_is_found_and_original_code_is_not(printed):
    package_lines = (REPO / "seqlab" / "gradcheck.py").read_text().splitlines()
    body = [line for line in package_lines if line.startswith("    ") and line.strip() and not line.strip().startswith('"')]
    copied = notebook(("code", "def my_answer(f, x):\n" + "\n".join(body[:12]), ANSWER))
    assert rules.printed_answer_code(copied, printed)
    own = notebook(("code", "def my_answer(p, q):\n    ratio = np.log(np.clip(p, 1e-300, None)) - np.log(q)\n"
                            "    weighted = np.where(p > 0, p * ratio, 0.0).sum(axis=-1)\n    return weighted * 2.5", ANSWER))
    assert rules.printed_answer_code(own, printed) == []


def test_hidden_only_names_leave_out_strings_and_what_the_release_shows():
    test_cell = {"grade_id": "test-answer", "locked": True, "grade": True, "solution": False, "points": 1}
    nb = notebook(("code", f"visible_helper = 1\n{rules.HIDDEN_BEGIN}\nsecret_reference = visible_helper\n"
                           f"assert True, 'message_words_here'\n{rules.HIDDEN_END}", test_cell))
    assert rules.hidden_only_names(nb, "visible_helper = 1") == ["secret_reference"]
