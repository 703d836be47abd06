"""The student's side of the sandbox: runs a submission's cells, then answers calls to its functions.

This script runs INSIDE the bubblewrap sandbox (read-only at ``/grader/sandbox_server.py``), as an
unprivileged user, with the submission's copy as its only writable folder. Everything in this
process is untrusted once the first student cell has run: the student can patch this very code.
So nothing here decides a grade. It only executes code and ships plain data (see ``wire.py``) over
two pipes to the trusted grader, which runs the instructor's tests. The tampering it reports
(input transformers, patched checkers, exit attempts) is a courtesy to the instructor, never a
defence.

Requests and replies are dicts:

- ``{"op": "run_cell", "source": str}`` -> ``{"output": str, "error": None | {...}, "flags": [...]}``
- ``{"op": "describe", "names": [...]}`` -> ``{"kinds": {name: "function" | "data" | "missing" | "other"},
  "values": {name: value}}`` (values of the plain-data names)
- ``{"op": "call", "name": str, "args": [...], "kwargs": {...}}`` ->
  ``{"result": value, "args": [...], "kwargs": {...}, "error": None | {...}}``
  (arguments travel back so that in-place changes reach the tests)
- ``{"op": "bind", "bindings": {name: {"alias": other} | {"callback": id} | {"value": v}}}``
  and ``{"op": "unbind", "names": [...]}``: what ``seqlab.checks.substitute`` does in a test cell.
  A ``callback`` binding is a stub: calling it sends ``{"op": "callback", "id": id, "args": [...],
  "kwargs": {...}}`` to the grader, which runs its trusted helper and answers with
  ``{"result": value, "args": [...], "kwargs": {...}, "error": None | {...}}``. The helper's code
  never enters this process, so a student's function cannot print it into its feedback.
"""
from __future__ import annotations

import builtins
import io
import os
import sys
import traceback

MAX_OUTPUT_CHARS = int(os.environ.get("GRADER_MAX_OUTPUT_CHARS", "100000"))
MAX_MESSAGE_BYTES = int(os.environ.get("GRADER_MAX_MESSAGE_BYTES", str(64 * 2**20)))


def drop_privileges() -> None:
    """Run as the uid the grader chose for this sandbox, so that RLIMIT_NPROC counts this sandbox alone."""
    uid = os.environ.get("GRADER_SANDBOX_UID")
    if uid:
        os.setgroups([])
        os.setgid(int(uid))
        os.setuid(int(uid))


drop_privileges()

# wire.py lies beside this file. In the jail Python puts this folder first on sys.path; without the
# jail (the instructor's opt-out) the server runs with `python -I`, which leaves it out.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402  (after dropping privileges: nothing runs as root)
import numpy.testing  # noqa: E402,F401
import wire  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from traitlets.config import Config  # noqa: E402


class BoundedOutput(io.TextIOBase):
    """A stdout/stderr that keeps the first MAX_OUTPUT_CHARS characters and counts the rest."""

    def __init__(self):
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        text = str(text)
        room = MAX_OUTPUT_CHARS - self.kept
        self.parts.append(text[:max(room, 0)])
        self.kept += min(len(text), max(room, 0))
        self.dropped += max(len(text) - max(room, 0), 0)
        return len(text)

    def text(self) -> str:
        note = f"\n[... {self.dropped} more characters of output cut: the limit is {MAX_OUTPUT_CHARS}]" if self.dropped else ""
        return "".join(self.parts) + note


def slots(value, path: tuple = ()) -> dict[tuple, object]:
    """Every object held in a slot of a list, tuple or dict inside ``value``, by its path of indices and keys.

    The objects themselves are kept (not their ids), so that none is freed during the call and its
    id reused by a new object.
    """
    found: dict[tuple, object] = {}
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    for key, item in items:
        found[path + (key,)] = item
        found.update(slots(item, path + (key,)))
    return found


def rebound_slots(before: dict[tuple, object], value) -> list[list]:
    """Paths of the slots that now hold another object than before (``grads[i] = ...``), or none at all.

    The grader tells these apart from arrays changed in place (``grads[i] *= ...``): the first
    rebinds a list item and leaves the caller's array alone, the second changes the caller's array.
    """
    after = slots(value)
    return [list(path) for path in sorted(set(before) | set(after), key=repr)
            if before.get(path, before) is not after.get(path, after)]


class Student:
    def __init__(self):
        config = Config()
        config.HistoryManager.enabled = False
        self.shell = InteractiveShell.instance(config=config)
        self.shell.InteractiveTB.set_mode("Plain")
        self.shell.colors = "NoColor"
        # The error travels in the reply: the cell's printed output should not repeat it.
        self.shell.showtraceback = lambda *args, **kwargs: None
        self.shell.showsyntaxerror = lambda *args, **kwargs: None
        self.namespace = self.shell.user_ns
        self.saved_bindings: list[dict] = []
        self.flags: set[str] = set()
        self.watched = {name: module for name, module in
                        [("builtins", builtins), ("numpy.testing", np.testing), ("numpy", np)]}
        try:
            import seqlab.checks
            self.watched["seqlab.checks"] = seqlab.checks
        except ImportError:
            pass
        self.snapshot = self.take_snapshot()

    def take_snapshot(self) -> dict:
        modules = {name: {attr: id(value) for attr, value in vars(module).items()}
                   for name, module in self.watched.items()}
        shell = self.shell
        return {"modules": modules,
                "transformers": (len(shell.input_transformers_cleanup), len(shell.input_transformers_post),
                                 len(shell.ast_transformers))}

    def check_tampering(self) -> None:
        now = self.take_snapshot()
        if now["transformers"] != self.snapshot["transformers"]:
            self.flags.add("input-transformer: the notebook installed an IPython input or AST transformer")
        for module, attrs in self.snapshot["modules"].items():
            changed = sorted(a for a, ident in attrs.items() if now["modules"][module].get(a) != ident)
            if changed:
                self.flags.add(f"monkeypatch: the notebook replaced {module}.{', '.join(changed[:5])}")

    @staticmethod
    def error_of(exc: BaseException) -> dict:
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if not f.filename.startswith("/grader/") and "IPython/core" not in f.filename]
        lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
        return {"ename": type(exc).__name__, "evalue": str(exc)[:10000],
                "traceback": "".join(lines)[-20000:]}

    def run_cell(self, source: str) -> dict:
        output = BoundedOutput()
        sys.stdout, sys.stderr = output, output
        try:
            result = self.shell.run_cell(source, store_history=False, silent=False)
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        error = result.error_before_exec or result.error_in_exec
        self.check_tampering()
        if isinstance(error, SystemExit):
            self.flags.add("exit: the notebook called sys.exit() (or exit()/quit())")
        return {"output": output.text(), "error": self.error_of(error) if error is not None else None,
                "flags": sorted(self.flags)}

    def describe(self, names: list[str]) -> dict:
        kinds, values = {}, {}
        for name in names:
            if name not in self.namespace:
                kinds[name] = "missing"
            elif callable(self.namespace[name]):
                kinds[name] = "function"
            else:
                try:
                    wire.encode(self.namespace[name], MAX_MESSAGE_BYTES)
                    kinds[name], values[name] = "data", self.namespace[name]
                except (wire.NotPlainData, ValueError):
                    kinds[name] = "other"
        return {"kinds": kinds, "values": values}

    def call(self, name: str, args: list, kwargs: dict) -> dict:
        function = self.namespace.get(name)
        if not callable(function):
            return {"error": {"ename": "NameError", "evalue": f"name '{name}' is not defined", "traceback": ""}}
        before = slots({"args": args, "kwargs": kwargs})
        output = BoundedOutput()  # what the student's function prints is not shown inside the tests
        sys.stdout, sys.stderr = output, output
        try:
            result = function(*args, **kwargs)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt too: report, keep serving
            if isinstance(exc, SystemExit):
                self.flags.add(f"exit: {name}() called sys.exit() during the tests")
            return {"error": self.error_of(exc), "args": args, "kwargs": kwargs,
                    "rebound": rebound_slots(before, {"args": args, "kwargs": kwargs})}
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        return {"result": result, "args": args, "kwargs": kwargs, "error": None, "rebound": rebound_slots(before, {"args": args, "kwargs": kwargs})}

    def bind(self, bindings: dict) -> dict:
        missing = object()
        saved = {name: self.namespace.get(name, missing) for name in bindings}
        self.saved_bindings.append({n: (None if v is missing else v, v is missing) for n, v in saved.items()})
        for name, how in bindings.items():
            if "alias" in how:
                self.namespace[name] = self.namespace.get(how["alias"])
            elif "callback" in how:
                self.namespace[name] = self.stub(str(how["callback"]), name)
            else:
                self.namespace[name] = how["value"]
        return {"error": None}

    def stub(self, callback_id: str, name: str):
        """A function that runs the grader's helper ``callback_id`` on its arguments (see the module's doc)."""
        requests, replies = self.channel

        def helper(*args, **kwargs):
            wire.write_all(replies, wire.encode({"op": "callback", "id": callback_id, "args": list(args),
                                                 "kwargs": kwargs}, MAX_MESSAGE_BYTES))
            answer = wire.read_frame(requests, MAX_MESSAGE_BYTES)
            error = answer.get("error")
            if error:
                kind = getattr(builtins, str(error.get("ename")), None)
                kind = kind if isinstance(kind, type) and issubclass(kind, Exception) else RuntimeError
                raise kind(f"{name}() (given by the tests): {error.get('evalue')}")
            for original, returned in zip(args, answer.get("args", [])):  # what the helper changed in place
                if isinstance(original, np.ndarray) and isinstance(returned, np.ndarray) and original.shape == returned.shape:
                    original[...] = returned
            return answer.get("result")

        helper.__name__ = helper.__qualname__ = name
        return helper

    def unbind(self) -> dict:
        for name, (value, was_missing) in self.saved_bindings.pop().items():
            if was_missing:
                self.namespace.pop(name, None)
            else:
                self.namespace[name] = value
        return {"error": None}


def serve(requests: int, replies: int) -> None:
    server_pid = os.getpid()
    student = Student()
    student.channel = (requests, replies)
    handlers = {
        "run_cell": lambda r: student.run_cell(r["source"]),
        "describe": lambda r: student.describe(r["names"]),
        "call": lambda r: student.call(r["name"], r["args"], r["kwargs"]),
        "bind": lambda r: student.bind(r["bindings"]),
        "unbind": lambda r: student.unbind(),
        "flags": lambda r: {"flags": sorted(student.flags)},
    }
    while True:
        try:
            request = wire.read_frame(requests, MAX_MESSAGE_BYTES)
        except wire.ProtocolError:
            return  # the grader closed the channel: we are done
        try:
            reply = handlers[request["op"]](request)
        except BaseException as exc:
            reply = {"error": Student.error_of(exc)}
        if os.getpid() != server_pid:
            os._exit(0)  # a process the student forked came back here: only the server answers
        try:
            frame = wire.encode(reply, MAX_MESSAGE_BYTES)
        except (wire.NotPlainData, ValueError) as exc:
            what = request.get("name", "the notebook")
            frame = wire.encode({"error": {
                "ename": "TypeError",
                "evalue": f"{what} gave back something the grader cannot receive ({exc}): return plain data only, "
                          f"NumPy arrays, numbers, strings, None, and lists/tuples/dicts of those",
                "traceback": ""}}, MAX_MESSAGE_BYTES)
        wire.write_all(replies, frame)


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
