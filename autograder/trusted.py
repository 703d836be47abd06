"""Grade one submission: the student's code runs in the sandbox, the instructor's tests run here.

This process is trusted. It never executes student code and never unpickles anything the
sandbox sends: it receives plain data only (``wire.py``). It runs the instructor's ORIGINAL test
cells, taken from ``solutions/`` (hidden tests included) and never from the submission, in a fresh
namespace where each name that an answer cell defines is bound to a :class:`StudentFunction`: a
call ships its arguments into the sandbox, where the student's function runs, and returns its
result (and the arguments, which the function may have changed in place) as plain data.

Student code can therefore not blank, edit, skip or fake a test cell, patch the assertion
helpers the tests use, or end the process that runs the tests.
"""
from __future__ import annotations

import builtins
import contextlib
import io
import time
from pathlib import Path

import nbformat
import numpy as np

from autograder import rules
from autograder import submission as sub
from autograder.sandbox import Limits, Sandbox, SandboxDied, SandboxTimeout

from seqlab.checks import REMOTE_KEY  # where substitute() finds the sandbox in a test cell's globals
SUCCESS_LOOKALIKE = "tests passed"  # what the exercises' test cells print; a student cell printing it is suspect


class StudentCodeError(Exception):
    """The student's function raised an exception that is not one of Python's built-in ones."""


def reference_reaches(cells: list[tuple[str, str]]) -> list[str]:
    """Flags for the student's cells (``(cell id, source)``) that try to import a reference.

    In the sandbox such an import fails (the package holds no more than its helpers there, and
    PyTorch is not there), so the task scores 0; the flag tells the instructor why.
    """
    flags = []
    for gid, source in cells:
        for module, name, line in rules.imports_of(source):
            full = f"{module}.{name}" if module == rules.PACKAGE and name else module
            if not rules.is_student_module(full) and (full.split(".")[0] in (*rules.AUTOGRAD_PACKAGES, rules.PACKAGE)
                                                      or full.split(".")[0] == "importlib"):
                flags.append(f"reference-import: cell {gid} imports {full} (line {line}); student code may use "
                             f"NumPy, the standard library and {', '.join(rules.STUDENT_MODULES)} only")
        if "__import__" in source or "import_module" in source:
            flags.append(f"reference-import: cell {gid} imports a module by name at run time "
                         "(__import__ or importlib); check what it loads")
    return sorted(set(flags))


def rebuild_error(name: str, error: dict) -> BaseException:
    """The student's exception, as an exception of the same built-in type where there is one."""
    ename, evalue = str(error.get("ename", "Error")), str(error.get("evalue", ""))
    where = str(error.get("traceback") or "").rstrip()
    message = evalue
    if where:
        message = f"{evalue}\n(raised by your {name}(); traceback:\n{where})" if evalue else f"raised by your {name}(); traceback:\n{where}"
    cls = getattr(builtins, ename, None)
    if isinstance(cls, type) and issubclass(cls, Exception) and cls.__module__ == "builtins":
        try:
            return cls(message)
        except Exception:
            pass
    return StudentCodeError(f"{ename}: {message}")


def copy_back(original, returned, rebound: set[tuple] = frozenset(), path: tuple = ()) -> None:
    """Apply what the student's function did to its arguments to the test's own objects.

    ``rebound`` holds the paths of the container slots the function rebound (``grads[i] = new``);
    the test's list gets the new object there, and its old array stays as it was, exactly as if
    the function had run in the test's own process. Arrays in the other slots are updated in place.
    """
    if isinstance(original, np.ndarray) and isinstance(returned, np.ndarray):
        if original.shape == returned.shape and not np.array_equal(original, returned, equal_nan=original.dtype.kind in "fc"):
            original[...] = returned
    elif isinstance(original, list) and isinstance(returned, list):
        if len(original) != len(returned):
            original[:] = returned
            return
        for i, r in enumerate(returned):
            if path + (i,) in rebound:
                original[i] = r
            else:
                copy_back(original[i], r, rebound, path + (i,))
    elif isinstance(original, tuple) and isinstance(returned, tuple) and len(original) == len(returned):
        for i, (o, r) in enumerate(zip(original, returned)):
            copy_back(o, r, rebound, path + (i,))
    elif isinstance(original, dict) and isinstance(returned, dict):
        for key in list(original):
            if key not in returned:
                del original[key]
        for key, r in returned.items():
            if key not in original or path + (key,) in rebound:
                original[key] = r
            else:
                copy_back(original[key], r, rebound, path + (key,))


class Runner:
    """The sandbox of one submission, restarted (its cells run again) after a timeout or a crash."""

    def __init__(self, cells: list[tuple[int, str, bool]], workdir: Path, limits: Limits, bwrap: str | None, slot: int,
                 site: Path | None = None):
        self.cells, self.limits = cells, limits
        self.callbacks: dict = {}  # the trusted helpers that substitute() handed the student's code
        self.sandbox = Sandbox(workdir, limits, bwrap, slot, site=site, callbacks=self.callbacks)
        self.started_at = time.monotonic()
        self.deadline = self.started_at + limits.notebook_timeout
        self.flags: set[str] = set()
        self.cell_results: dict[int, dict] = {}
        self.kinds: dict[str, str] = {}
        self.values: dict = {}
        self.restarts = 0
        self.skipped: set[int] = set()
        self.active_bindings: list[dict] = []  # substitute() blocks open now, re-applied after a restart
        self.dead_reason = ""

    def remaining(self, budget: float) -> float:
        return max(0.0, min(budget, self.deadline - time.monotonic()))

    def boot(self, names: list[str]) -> None:
        """Run the submission's cells in a fresh sandbox, and learn what its answer names are.

        A cell that times out or ends the process is recorded, skipped, and the sandbox starts
        again from the first cell, so that the other cells still get their definitions.
        """
        while True:
            for index, source, instructors in self.cells:
                if index in self.skipped:
                    continue
                # The instructor's own cells (imports of torch...) may take what the notebook has left.
                budget = self.limits.notebook_timeout if instructors else self.limits.cell_timeout
                try:
                    reply = self.sandbox.request({"op": "run_cell", "source": source}, self.remaining(budget))
                except SandboxTimeout:
                    self.cell_results[index] = {"output": "", "error": {
                        "ename": "TimeoutError", "evalue": f"this cell ran longer than the limit of "
                        f"{self.limits.cell_timeout:.0f} s and was stopped", "traceback": ""}}
                    self.flags.add(f"timeout: a cell of the notebook ran past {self.limits.cell_timeout:.0f} s")
                except SandboxDied as died:
                    self.cell_results[index] = {"output": "", "error": {
                        "ename": "SystemExit", "evalue": f"the notebook's process ended in this cell: {died}",
                        "traceback": ""}}
                    self.flags.add(f"process-ended: {died} while running the notebook's cells")
                else:
                    self.cell_results.setdefault(index, {"output": str(reply.get("output", "")),
                                                         "error": reply.get("error")})
                    self.flags.update(str(f) for f in reply.get("flags", []))
                    continue
                self.skipped.add(index)
                if self.remaining(1) <= 0:
                    raise SandboxTimeout("the notebook ran out of time")
                break  # start again without the cell that failed
            else:
                break
        reply = self.sandbox.request({"op": "describe", "names": names}, self.remaining(self.limits.cell_timeout))
        self.kinds = {str(k): str(v) for k, v in reply.get("kinds", {}).items()}
        self.values = reply.get("values", {})

    def ensure_running(self, names: list[str], clock: dict) -> bool:
        """A live sandbox, started afresh (its cells run again) if the last one was killed.

        The restart is the grader's time, not the test's: the test cell's deadline in ``clock``
        moves on by what it took, or the task after an infinite loop would time out as well.
        """
        if self.sandbox.process is not None:
            return True
        restart_began = time.monotonic()
        if self.restarts >= self.limits.restarts or self.remaining(1) <= 0:
            return False
        self.restarts += 1
        try:
            self.boot(names)
            for bindings in self.active_bindings:
                self.sandbox.request({"op": "bind", "bindings": bindings}, self.limits.cell_timeout)
        except (SandboxTimeout, SandboxDied) as exc:
            self.dead_reason = str(exc)
            return False
        finally:
            clock["cell_deadline"] += time.monotonic() - restart_began
        return self.sandbox.process is not None

    def call(self, name: str, args: tuple, kwargs: dict, clock: dict, names: list[str]):
        if not self.ensure_running(names, clock):
            raise RuntimeError(f"{name}() cannot run: the notebook's process could not be started again "
                               f"({self.dead_reason or 'too many restarts or out of time'})")
        timeout = max(0.0, min(clock["cell_deadline"], self.deadline) - time.monotonic())
        try:
            reply = self.sandbox.request({"op": "call", "name": name, "args": list(args), "kwargs": kwargs}, timeout)
        except SandboxTimeout:
            self.flags.add(f"timeout: {name}() ran past the time limit during the tests")
            raise TimeoutError(f"{name}() did not return within the time limit ({self.limits.cell_timeout:.0f} s per "
                               "test cell): look for an infinite loop or a far too slow computation") from None
        except SandboxDied as died:
            self.flags.add(f"process-ended: {died} during {name}()")
            raise RuntimeError(f"{name}() ended the notebook's process: {died} "
                               "(out of memory, os._exit, or a crash)") from None
        except ValueError as exc:
            raise ValueError(f"the arguments for {name}() cannot be sent to the sandbox: {exc}") from None
        if (reply.get("error") or {}).get("ename") == "SystemExit":
            self.flags.add(f"exit: {name}() called sys.exit() during the tests")
        return reply


class StudentFunction:
    """Stands for the student's function in the tests; each call runs it inside the sandbox."""

    def __init__(self, runner: Runner, name: str, names: list[str], clock: dict):
        self._runner, self.__name__, self._names, self._clock = runner, name, names, clock

    def __repr__(self) -> str:
        return f"<student function {self.__name__}, run in the sandbox>"

    def __call__(self, *args, **kwargs):
        reply = self._runner.call(self.__name__, args, kwargs, self._clock, self._names)
        rebound = {tuple(p) for p in reply.get("rebound") or [] if isinstance(p, list)}
        for i, (original, returned) in enumerate(zip(args, reply.get("args", []))):
            copy_back(original, returned, rebound, ("args", i))
        for key, returned in (reply.get("kwargs") or {}).items():
            if key in kwargs:
                copy_back(kwargs[key], returned, rebound, ("kwargs", key))
        if reply.get("error"):
            raise rebuild_error(self.__name__, reply["error"])
        return reply.get("result")


class Remote:
    """What ``seqlab.checks.substitute`` calls to rebind a name inside the sandbox as well."""

    def __init__(self, runner: Runner, clock: dict, names: list[str]):
        self.runner, self.clock, self.names = runner, clock, names

    def how(self, value) -> dict:
        """A student function is aliased; any other function stays here, and the sandbox gets a stub
        that calls it through the grader (its code never reaches the student's process)."""
        if isinstance(value, StudentFunction):
            return {"alias": value.__name__}
        if callable(value):
            callback_id = f"helper-{len(self.runner.callbacks)}"
            self.runner.callbacks[callback_id] = value
            return {"callback": callback_id}
        return {"value": value}

    def substitute(self, replacements: dict) -> None:
        bindings = {name: self.how(value) for name, value in replacements.items()}
        if not self.runner.ensure_running(self.names, self.clock):
            raise RuntimeError("the notebook's process could not be started again")
        timeout = max(0.0, min(self.clock["cell_deadline"], self.runner.deadline) - time.monotonic())
        self.runner.active_bindings.append(bindings)
        try:
            self.runner.sandbox.request({"op": "bind", "bindings": bindings}, timeout)
        except (SandboxTimeout, SandboxDied) as exc:
            raise RuntimeError(f"substitute() could not reach the notebook's process: {exc}") from None

    def restore(self, names) -> None:
        self.runner.active_bindings.pop()
        if self.runner.sandbox.process is not None:
            try:
                self.runner.sandbox.request({"op": "unbind", "names": list(names)}, self.runner.limits.cell_timeout)
            except (SandboxTimeout, SandboxDied):
                pass  # the sandbox is gone; the next call starts a fresh one without the binding


def error_output(exc: BaseException) -> dict:
    # The test's own frames are left out: their source lines would reveal the hidden tests.
    return {"output_type": "error", "ename": type(exc).__name__, "evalue": str(exc),
            "traceback": [f"{type(exc).__name__}: {exc}"]}


def stream_outputs(stdout: str, stderr: str) -> list[dict]:
    return ([{"output_type": "stream", "name": "stdout", "text": stdout}] if stdout else []) + \
           ([{"output_type": "stream", "name": "stderr", "text": stderr}] if stderr else [])


def grade(source: nbformat.NotebookNode, normalized: nbformat.NotebookNode, workdir: Path,
          limits: Limits, bwrap: str | None, slot: int = 0, site: Path | None = None) -> dict:
    """Grade ``normalized`` (see ``submission.normalize``) against ``source``; returns plain data.

    ``site`` is the student's view of the package (``sandbox.student_site``). The result maps each
    cell of ``normalized`` (by index) to the outputs nbgrader will store, and carries the flags and
    the score per test.
    """
    source_cells = {sub.nbgrader_meta(c).get("grade_id"): c for c in source.cells if sub.nbgrader_meta(c).get("grade_id")}
    answer_names = list(dict.fromkeys(n for c in source.cells if sub.is_answer(c) and c.cell_type == "code"
                                      for n in rules.defined_names(c.source)))
    sandbox_cells = []
    for index, cell in enumerate(normalized.cells):
        if cell.cell_type != "code" or sub.is_test(cell):
            continue
        gid = sub.nbgrader_meta(cell).get("grade_id")
        trusted_version = source_cells.get(gid)
        locked = gid and trusted_version is not None and not sub.is_answer(trusted_version)
        sandbox_cells.append((index, trusted_version.source if locked else cell.source, bool(locked)))

    runner = Runner(sandbox_cells, workdir, limits, bwrap, slot, site=site)
    runner.flags.update(reference_reaches([(sub.nbgrader_meta(normalized.cells[i]).get("grade_id") or f"{i + 1}", src)
                                           for i, src, locked in sandbox_cells if not locked]))
    outputs: dict[int, list[dict]] = {}
    tests: dict[str, dict] = {}
    clock = {"cell_deadline": time.monotonic() + limits.cell_timeout}
    try:
        try:
            runner.boot(answer_names)
        except (SandboxTimeout, SandboxDied) as exc:
            runner.dead_reason = str(exc)
        for index, result in runner.cell_results.items():
            text = result["output"]
            if SUCCESS_LOOKALIKE in text.lower():
                runner.flags.add("fake-output: a cell of the student's printed text that imitates the tests' messages")
            out = [{"output_type": "stream", "name": "stdout", "text": text}] if text else []
            if result["error"]:
                e = result["error"]
                out.append({"output_type": "error", "ename": str(e.get("ename")), "evalue": str(e.get("evalue")),
                            "traceback": [str(e.get("traceback") or f"{e.get('ename')}: {e.get('evalue')}")]})
            outputs[index] = out

        namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
        namespace[REMOTE_KEY] = Remote(runner, clock, answer_names)
        for name in answer_names:
            kind = runner.kinds.get(name, "function")
            if kind == "function":
                namespace[name] = StudentFunction(runner, name, answer_names, clock)
            elif kind == "data":
                namespace[name] = runner.values.get(name)
        index_of = {sub.nbgrader_meta(c).get("grade_id"): i for i, c in enumerate(normalized.cells)
                    if sub.nbgrader_meta(c).get("grade_id")}
        for cell in source.cells:
            meta = sub.nbgrader_meta(cell)
            if cell.cell_type != "code" or sub.is_answer(cell):
                continue
            stdout, stderr = io.StringIO(), io.StringIO()
            clock["cell_deadline"] = time.monotonic() + limits.cell_timeout
            error = None
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                try:
                    if time.monotonic() > runner.deadline:
                        raise TimeoutError(f"the notebook ran past its limit of {limits.notebook_timeout:.0f} s "
                                           "before this test could run")
                    exec(compile(cell.source, f"<test {meta.get('grade_id', 'cell')}>", "exec"), namespace)
                except Exception as exc:  # the test failed: that is the outcome we record
                    error = exc
            if not sub.is_test(cell):
                if error is not None:
                    raise RuntimeError(f"the instructor's cell {meta.get('grade_id')!r} failed: {error!r}")
                continue
            out = stream_outputs(stdout.getvalue()[:limits.output_chars], stderr.getvalue()[:limits.output_chars])
            if error is not None:
                out.append(error_output(error))
            gid = meta["grade_id"]
            outputs[index_of[gid]] = out
            passed = not any(o["output_type"] == "error" or o.get("name") == "stderr" for o in out)
            points = float(meta.get("points", 0))
            tests[gid] = {"passed": passed, "points": points if passed else 0.0, "max_points": points}
    finally:
        runner.sandbox.kill()
    return {"outputs": {str(i): o for i, o in sorted(outputs.items())},
            "tests": tests,
            "score": sum(t["points"] for t in tests.values()),
            "max_score": sum(t["max_points"] for t in tests.values()),
            "flags": sorted(runner.flags)}
