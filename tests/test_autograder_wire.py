"""What crosses the sandbox boundary: plain data only, exactly, and nothing that could run code;
and what a student function does to its arguments reaches the tests exactly as in one process."""
import io
import os
import pickle
import time

import numpy as np
import pytest

from autograder import trusted, wire
from autograder.sandbox import Limits, bwrap_path
from autograder.submission import Malformed, read_submission


def roundtrip(value):
    frame = wire.encode(value, 2**20)
    read, write = os.pipe()
    os.write(write, frame)
    os.close(write)
    try:
        return wire.read_frame(read, 2**20)
    finally:
        os.close(read)


def test_plain_data_comes_back_equal_with_types_and_dtypes():
    value = {"loss": 0.25, 3: (np.arange(6, dtype=np.float32).reshape(2, 3), [1, "a", None, True]),
             "scalar": np.float32(1.5), "inf": float("inf"), "ids": np.array([1, -100], dtype=np.int64)}
    back = roundtrip(value)
    assert back.keys() == value.keys()
    assert isinstance(back[3], tuple) and isinstance(back[3][1], list)
    assert back[3][0].dtype == np.float32 and np.array_equal(back[3][0], value[3][0])
    assert isinstance(back["scalar"], np.float32) and back["inf"] == float("inf")
    assert back["ids"].dtype == np.int64


@pytest.mark.parametrize("value", [lambda: 0, object(), np.array([object()]), {1, 2}])
def test_objects_and_code_cannot_be_sent(value):
    with pytest.raises(wire.NotPlainData):
        wire.encode(value, 2**20)


def test_a_pickle_disguised_as_an_array_is_refused():
    archive = io.BytesIO()
    np.savez(archive, a0=np.array([object()], dtype=object))  # an object array is stored as a pickle
    with pytest.raises(wire.ProtocolError):
        wire.decode_payload(b'{"array": 0}', archive.getvalue())
    with pytest.raises(wire.ProtocolError):
        wire.decode_payload(pickle.dumps([1]), b"")


def test_oversized_messages_are_refused():
    with pytest.raises(ValueError, match="over the limit"):
        wire.encode(np.zeros(10_000), 1000)


def test_malformed_notebooks_have_reasons(tmp_path):
    folder = tmp_path / "ex"
    folder.mkdir()
    with pytest.raises(Malformed, match="missing notebook"):
        read_submission(folder, "ex")
    (folder / "ex.ipynb").write_bytes(b'{"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}')
    with pytest.raises(Malformed, match="invalid JSON.*line 1"):
        read_submission(folder, "ex")


# -- a student function called from the tests: its arguments come back as it left them --------
STUDENT_CODE = '''
import numpy as np

def scale_in_place(grads):
    for g in grads:
        g *= 2

def rebind_items(grads):
    for i in range(len(grads)):
        grads[i] = grads[i] * 2  # new arrays in the list: the caller's arrays are untouched

def change_then_raise(grads):
    grads[0][...] = 0
    raise FloatingPointError("a gradient holds inf")

def grow(table, *, log):
    table["new"] = 1
    table["kept"].append(3)
    log.append("called")
'''
NAMES = ["scale_in_place", "rebind_items", "change_then_raise", "grow"]


@pytest.mark.parametrize("jailed", [True, False], ids=["bubblewrap", "unsafe-no-sandbox"])
def test_arguments_come_back_changed_exactly_as_in_one_process(tmp_path, jailed):
    bwrap = bwrap_path() if jailed else None
    if jailed and bwrap is None:
        pytest.fail("bubblewrap cannot create a sandbox here: install Debian's `bubblewrap` (.ci/run does)")
    runner = trusted.Runner([(0, STUDENT_CODE, False)], tmp_path, Limits(cell_timeout=60), bwrap, slot=0)
    clock = {"cell_deadline": time.monotonic() + 60}
    student = {name: trusted.StudentFunction(runner, name, NAMES, clock) for name in NAMES}
    try:
        runner.boot(NAMES)
        assert runner.cell_results[0]["error"] is None, runner.cell_results
        grads = [np.ones(2), np.ones((1, 3), np.float32)]
        originals = list(grads)
        assert student["scale_in_place"](grads) is None
        assert all(g is o for g, o in zip(grads, originals)) and all((g == 2).all() for g in originals)
        assert originals[1].dtype == np.float32

        student["rebind_items"](grads)
        assert all((o == 2).all() for o in originals), "rebinding a list item must not change the caller's array"
        assert all((g == 4).all() for g in grads) and grads[0] is not originals[0]

        with pytest.raises(FloatingPointError, match="holds inf"):
            student["change_then_raise"](grads)
        assert (grads[0] == 0).all(), "a change made before an exception must reach the caller"

        table, log = {"kept": [1, 2]}, []
        kept = table["kept"]
        student["grow"](table, log=log)
        assert table == {"kept": [1, 2, 3], "new": 1} and table["kept"] is kept and log == ["called"]
    finally:
        runner.sandbox.kill()


# A student who looks for answers everywhere the jail lets them look.
SEARCHER = '''
import importlib, os
reached = {}
for name in MODULES:
    try:
        importlib.import_module(name)
        reached[name] = "imported"
    except Exception as exc:
        reached[name] = type(exc).__name__
found = []
for top in ("/usr", "/opt", "/home", "/tmp", "/grader", "/root", "/work", "/var", "/srv", os.path.expanduser("~")):
    for base, folders, files in os.walk(top):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(base, name)
            try:
                with open(path, errors="replace") as f:
                    text = f.read(2_000_000)
            except OSError:
                continue
            found += [(path, marker) for marker in MARKERS if marker in text]

def peek(x):
    import inspect
    try:
        code = inspect.getsource(helper)
    except Exception as exc:
        code = type(exc).__name__
    return {"result": helper(x), "code": code}
'''


def test_student_code_reaches_the_helpers_and_no_reference_nor_autograd(tmp_path):
    """In the jail, of the package only ``rules.STUDENT_MODULES`` imports; PyTorch does not; no file
    on the jail's disk holds a line of the package's other modules; and a helper that a test hands
    the student's code runs in the grader, its source out of reach."""
    import inspect

    import seqlab
    from autograder import rules
    from autograder.sandbox import student_site

    bwrap = bwrap_path()
    if bwrap is None:
        pytest.fail("bubblewrap cannot create a sandbox here: install Debian's `bubblewrap` (.ci/run does)")
    package = os.path.dirname(seqlab.__file__)
    others = sorted(f"seqlab.{name[:-3]}" for name in os.listdir(package)
                    if name.endswith(".py") and name != "__init__.py" and f"seqlab.{name[:-3]}" not in rules.STUDENT_MODULES)
    # A distinctive line of each other module: its first long `def` or `class` line.
    markers = []
    for module in others:
        lines = open(os.path.join(package, module.split(".")[1] + ".py")).read().splitlines()
        markers.append(next(line for line in lines if line.lstrip().startswith(("def ", "class ")) and len(line) > 20))
    code = f"MODULES = {others + list(rules.STUDENT_MODULES) + ['torch', 'torch.autograd', 'functorch']!r}\n" \
           f"MARKERS = {markers!r}\n" + SEARCHER
    (tmp_path / "work").mkdir()
    runner = trusted.Runner([(0, code, False)], tmp_path / "work", Limits(cell_timeout=120, notebook_timeout=240), bwrap,
                            slot=0, site=student_site(tmp_path / "site"))
    clock = {"cell_deadline": time.monotonic() + 120}
    try:
        runner.boot(["reached", "found", "peek"])
        assert runner.cell_results[0]["error"] is None, runner.cell_results
        reached, found = runner.values["reached"], runner.values["found"]
        assert {m for m, how in reached.items() if how == "imported"} == set(rules.STUDENT_MODULES), reached
        assert reached["torch"] == "ImportError" and reached["functorch"] == "ImportError", reached
        assert found == [], f"the jail's disk holds the package's code: {found[:5]}"

        def reference(x):
            return x * 3 + 1  # the secret: a student must not read this line

        remote = trusted.Remote(runner, clock, ["peek"])
        remote.substitute({"helper": reference})
        got = trusted.StudentFunction(runner, "peek", ["peek"], clock)(np.arange(3.0))
        remote.restore(["helper"])
        np.testing.assert_array_equal(got["result"], np.arange(3.0) * 3 + 1)
        assert "x * 3 + 1" not in got["code"] and "x * 3 + 1" in inspect.getsource(reference)
    finally:
        runner.sandbox.kill()
