"""What an exercise may hand a student, and what student code may reach: one place for both.

An exercise must be solved, not copied. So:

- the release's locked cells (and the visible part of its test cells) import only the standard
  library, NumPy and the package's checking helpers (``STUDENT_MODULES``): never a reference that a
  hidden test compares against, and never PyTorch, whose autograd answers any backward pass;
- no graded answer's name is a callable of the package, and no graded answer's code is printed in
  the book or the package;
- in the grader's sandbox, student code finds the helpers of ``STUDENT_MODULES`` and nothing else of
  the package, and none of the ``AUTOGRAD_PACKAGES``.

``tests/test_exercise_rules.py`` checks the first two for every exercise; ``sandbox.py`` builds the
third; ``python -m autograder.check_exercise <id>`` runs them all on one exercise while it is written.
"""
from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import sys
from pathlib import Path

import nbformat

from autograder import submission as sub

PACKAGE = "seqlab"
# The package's modules a student's code may import, in JupyterLab and in the grader: checking tools.
STUDENT_MODULES = ("seqlab.checks", "seqlab.gradcheck")
# Third-party modules a release may import; everything else but the standard library is refused.
RELEASE_THIRD_PARTY = ("numpy",)
# Packages that compute gradients or carry reference layers: hidden from student code in the sandbox.
AUTOGRAD_PACKAGES = ("torch", "functorch", "torchgen", "jax", "jaxlib", "autograd", "tensorflow")
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def _split_hidden(source: str) -> tuple[str, str]:
    """A cell's source as (what the release shows, its hidden-test blocks), each joined by lines."""
    parts: tuple[list[str], list[str]] = ([], [])
    hidden = False
    for line in source.splitlines():
        if line.strip() in (HIDDEN_BEGIN, HIDDEN_END):
            hidden = line.strip() == HIDDEN_BEGIN
        else:
            parts[hidden].append(line)
    return "\n".join(parts[0]), "\n".join(parts[1])


def visible_part(source: str) -> str:
    """A cell's source without its hidden-test blocks: what the release shows."""
    return _split_hidden(source)[0]


def hidden_part(source: str) -> str:
    """The hidden-test blocks of a cell's source, joined."""
    return _split_hidden(source)[1]


def imports_of(source: str) -> list[tuple[str, str | None, int]]:
    """``(module, name or None, line)`` for every import in ``source``, at any depth; also
    ``__import__("x")`` and ``importlib.import_module("x")`` calls with a literal name."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found: list[tuple[str, str | None, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in ("__import__", "import_module") and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                found.append((node.args[0].value, None, node.lineno))
    return found


def is_student_module(module: str) -> bool:
    """A module student code may import: the standard library, NumPy, or a helper of the package."""
    top = module.split(".")[0]
    if top == PACKAGE:
        return module == PACKAGE or module in STUDENT_MODULES or any(module.startswith(m + ".") for m in STUDENT_MODULES)
    if top in AUTOGRAD_PACKAGES:
        return False
    return top in RELEASE_THIRD_PARTY or top in sys.stdlib_module_names


def release_import_problems(release: nbformat.NotebookNode) -> list[str]:
    """What the release's locked cells and visible tests import beyond what students may have."""
    problems = []
    for cell in release.cells:
        meta = sub.nbgrader_meta(cell)
        if cell.cell_type != "code" or not meta.get("locked"):
            continue
        for module, name, line in imports_of(visible_part(cell.source)):
            if module == PACKAGE and name is not None:
                module = f"{module}.{name}"
            if not is_student_module(module):
                problems.append(f"cell {meta.get('grade_id')!r}, line {line}: imports {module}"
                                f"{'.' + name if name and not module.endswith(name) else ''}; a release may import "
                                f"only the standard library, {', '.join(RELEASE_THIRD_PARTY)} and "
                                f"{', '.join(STUDENT_MODULES)} (references belong in hidden tests)")
    return problems


def answer_cells(source: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in source.cells if c.cell_type == "code" and sub.is_answer(c)]


def defined_names(code: str) -> list[str]:
    """Top-level names a cell defines: functions, classes, assigned variables."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return list(dict.fromkeys(names))


def answer_names(source: nbformat.NotebookNode) -> list[str]:
    """Every name the solution's answer cells define."""
    return list(dict.fromkeys(n for c in answer_cells(source) for n in defined_names(c.source)))


def package_callables() -> dict[str, list[str]]:
    """``{name: [module, ...]}`` for every callable that a module of the package holds."""
    package = importlib.import_module(PACKAGE)
    found: dict[str, list[str]] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{PACKAGE}.{info.name}")
        for name, value in vars(module).items():
            if callable(value) and not name.startswith("__"):
                found.setdefault(name, []).append(module.__name__)
    return found


def solution_code(cell_source: str) -> str:
    """The solution part of an answer cell: between the solution markers, or the whole cell."""
    lines, inside, marked = [], False, "### BEGIN SOLUTION" in cell_source
    for line in cell_source.splitlines():
        if line.strip() == "### BEGIN SOLUTION":
            inside = True
        elif line.strip() == "### END SOLUTION":
            inside = False
        elif inside or not marked:
            lines.append(line)
    return "\n".join(lines)


def _code_lines(text: str) -> list[str]:
    """Lines of code, comparable across files: no comments, no blank lines, spaces squeezed."""
    out = []
    for line in text.splitlines():
        line = re.sub(r"#.*", "", line)
        line = re.sub(r"\s+", "", line)
        if line and line not in ("return", "else:", "try:", "pass", ")", "]", "}", '"""'):
            out.append(line)
    return out


def substantial(lines: list[str]) -> bool:
    """A window worth reporting: more than bookkeeping (at least one line with arithmetic or a call)."""
    return sum(len(line) for line in lines) >= 60 and any(re.search(r"[-+*/@]|\w\(", line) for line in lines)


def printed_answer_code(source: nbformat.NotebookNode, texts: dict[str, str], window: int = 3) -> list[str]:
    """Where ``window`` consecutive lines of a solution appear in one of ``texts`` ({where: text})."""
    corpus = {where: "\n".join(_code_lines(text)) + "\n" for where, text in texts.items()}
    found = []
    for cell in answer_cells(source):
        lines = _code_lines(solution_code(cell.source))
        for start in range(len(lines) - window + 1):
            chunk = lines[start:start + window]
            if not substantial(chunk):
                continue
            needle = "\n".join(chunk) + "\n"
            for where, text in corpus.items():
                if needle in text:
                    found.append(f"{sub.nbgrader_meta(cell).get('grade_id')!r}: lines {chunk} appear in {where}")
    return found


def book_and_package_texts(repo: Path) -> dict[str, str]:
    """The chapters' sources and the package's modules: what the website prints."""
    files = sorted((repo / "book").glob("*.md")) + sorted((repo / PACKAGE).glob("*.py"))
    return {str(p.relative_to(repo)): p.read_text() for p in files}


def hidden_only_names(source: nbformat.NotebookNode, release_text: str, min_length: int = 8) -> list[str]:
    """Identifiers of the hidden tests' code (not their strings) that neither the release, the
    solution's answers nor the book hold: if one turns up in a student's feedback, the feedback
    leaks hidden tests."""
    import builtins
    import io
    import keyword
    import tokenize

    names: set[str] = set()
    for cell in source.cells:
        if cell.cell_type != "code" or not sub.is_test(cell):
            continue
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(hidden_part(cell.source) + "\n").readline))
        except (tokenize.TokenError, IndentationError, SyntaxError):
            continue
        names.update(t.string for t in tokens if t.type == tokenize.NAME)
    # A solver's feedback shows their code; common words (``backward``) are in the book too.
    shown = "\n".join([release_text, *(c.source for c in answer_cells(source)),
                       *(p.read_text() for p in sorted((Path(__file__).resolve().parent.parent / "book").glob("*.md")))])
    return sorted(n for n in names if len(n) >= min_length and n not in shown
                  and not keyword.iskeyword(n) and not hasattr(builtins, n) and n not in sys.stdlib_module_names
                  and not any(n in vars(m) for m in library_modules()))


def library_modules() -> list:
    """Modules whose names a student's own code may well use (``np.logspace``, ``itertools.permutations``)."""
    import itertools
    import math

    import numpy

    return [numpy, numpy.linalg, numpy.random, math, itertools]
