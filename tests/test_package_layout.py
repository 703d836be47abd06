"""The package's layout: ``seqlab/X.py`` is NumPy only, its PyTorch twin is ``seqlab/X_torch.py``, and
every weight or gradient conversion between the two lives in ``seqlab/convert.py``.

The imports go one way: a twin may import ``seqlab.convert`` at its top, so ``seqlab.convert`` imports
no twin at its top (the functions that build a twin's module import it in their body), and every
module imports on its own.
"""
import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "seqlab"
MODULES = sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__")
TWIN_SUFFIX = "_torch"
CONVERT = "convert"
# Modules other than the twins and convert.py that may import torch, each with its reason. None today.
TORCH_ALLOWED = {}
# A public function whose name says it converts between the two libraries.
CONVERSION_NAME = re.compile(r"(_to_torch|_to_numpy|_grads_as_numpy|_as_affine)$")


def tree_of(module: str) -> ast.Module:
    return ast.parse((PACKAGE / f"{module}.py").read_text(), filename=f"seqlab/{module}.py")


def imported_modules(nodes) -> set[str]:
    """The dotted names that the import statements among ``nodes`` import from."""
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def imports_torch(module: str) -> bool:
    names = imported_modules(ast.walk(tree_of(module)))
    return any(name == "torch" or name.startswith("torch.") for name in names)


def public_functions(module: str) -> list[str]:
    return [node.name for node in tree_of(module).body
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")]


def test_only_the_twins_and_convert_import_torch():
    allowed = {m for m in MODULES if m.endswith(TWIN_SUFFIX)} | {CONVERT} | set(TORCH_ALLOWED)
    offenders = [m for m in MODULES if m not in allowed and imports_torch(m)]
    assert not offenders, (f"seqlab/X.py is NumPy only; these import torch: {offenders}. Move their torch code "
                           "to seqlab/X_torch.py and their conversions to seqlab/convert.py")


def test_every_twin_has_its_numpy_module():
    twins = [m for m in MODULES if m.endswith(TWIN_SUFFIX)]
    assert twins, "no seqlab/*_torch.py found"
    orphans = [m for m in twins if m.removesuffix(TWIN_SUFFIX) not in MODULES]
    assert not orphans, f"every seqlab/X_torch.py is the twin of a seqlab/X.py; these have none: {orphans}"


def test_every_conversion_lives_in_convert():
    elsewhere = {m: names for m in MODULES if m != CONVERT
                 if (names := [f for f in public_functions(m) if CONVERSION_NAME.search(f)])}
    assert not elsewhere, f"conversions between NumPy and torch belong in seqlab/convert.py: {elsewhere}"


def test_convert_imports_no_twin_at_its_top():
    """A twin imports convert at its top; the other direction is imported inside the functions that need it."""
    top = imported_modules(tree_of(CONVERT).body)  # not the TYPE_CHECKING block, not function bodies
    twins = sorted(name for name in top if name.startswith("seqlab.") and name.split(".")[1].endswith(TWIN_SUFFIX))
    assert not twins, f"seqlab/convert.py imports twins at its top, which makes an import cycle: {twins}"


def test_every_public_function_of_convert_is_tested():
    tests = "\n".join(path.read_text() for path in Path(__file__).parent.glob("test_*.py")
                      if path.name != Path(__file__).name)
    untested = [f for f in public_functions(CONVERT) if not re.search(rf"\b{f}\b", tests)]
    assert not untested, f"these functions of seqlab/convert.py appear in no test: {untested}"


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_on_its_own(module):
    """In a fresh interpreter; a NumPy module does not load torch, even through another module."""
    loads_torch = module.endswith(TWIN_SUFFIX) or module == CONVERT or module in TORCH_ALLOWED
    check = "" if loads_torch else "; assert 'torch' not in sys.modules, 'loads torch'"
    result = subprocess.run([sys.executable, "-c", f"import sys, seqlab.{module}{check}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"python -c 'import seqlab.{module}' failed:\n{result.stderr[-2000:]}"
