"""The grader's side of the sandbox: start a bubblewrap jail around a submission and talk to it.

Inside the jail (``sandbox_server.py``) the student's code sees a read-only system (``/usr``, the
Python installation and the course environment), a private ``/tmp``, and one writable folder: a
copy of its own submission. Of the course package it sees the checking helpers alone
(``rules.STUDENT_MODULES``, copied into ``/grader/site``), and the packages that compute gradients
(``rules.AUTOGRAD_PACKAGES``: PyTorch...) are hidden: an exercise's answers are NumPy code, and a
reference implementation or autograd within reach would answer them. It has no network, no view of ``solutions/``,
the gradebook, or other students' files, and runs as an unprivileged user with limits on memory
(``RLIMIT_AS``: a memory bomb gets ``MemoryError``), processes (``RLIMIT_NPROC``: a fork bomb gets
``BlockingIOError``), file size and output size. Wall time is enforced from outside: a cell or a
call that does not answer in time gets the whole jail killed, and the jail is started afresh for
the tests that follow.
"""
from __future__ import annotations

import dataclasses
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from autograder import rules, wire

HERE = Path(__file__).resolve().parent
SERVER_FILES = ("sandbox_server.py", "wire.py")
# What a hidden package's folder holds in the jail: an __init__ that refuses the import.
BLOCKED_INIT = HERE / "blocked_package.py"
STUDENT_SITE = "/grader/site"
# The uids the jails run as when the grader runs as root: one per worker slot, so that each
# jail's process limit counts that jail's processes alone.
FIRST_SANDBOX_UID = 61000


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one submission may use. Times in seconds, sizes in bytes."""

    cell_timeout: float = 60.0  # one cell of the student's, or one test cell, at most
    notebook_timeout: float = 600.0  # the whole submission, restarts included
    memory_bytes: int = 4 * 2**30  # address space of the jail's process (torch alone maps ~1 GiB)
    processes: int = 64  # processes and threads of the jail's user
    file_size_bytes: int = 64 * 2**20  # largest file the student may write
    output_chars: int = 100_000  # printed output kept per cell
    message_bytes: int = 64 * 2**20  # largest argument list or result crossing the boundary
    restarts: int = 2  # fresh jails after a timeout or a crash, per submission


class SandboxTimeout(Exception):
    """The student's code did not answer within the time limit; the jail was killed."""


class SandboxDied(Exception):
    """The jail's process ended (``os._exit``, a crash, a kill) or broke the protocol."""


def bwrap_path() -> str | None:
    """The bubblewrap executable if it exists and can create a jail here, else None."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None
    probe = subprocess.run([bwrap, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "true"],
                           capture_output=True)
    return bwrap if probe.returncode == 0 else None


def _python_roots() -> list[Path]:
    """Folders the jail needs read-only to run this Python: its installation and the venv."""
    return sorted({Path(sys.base_prefix).resolve(), Path(sys.prefix)})


def hidden_packages() -> list[Path]:
    """The folders of the installed ``rules.AUTOGRAD_PACKAGES``, and any installed copy of the course
    package, that lie inside the folders the jail binds: each is replaced there by ``BLOCKED_INIT``."""
    import importlib.util

    roots = _python_roots()
    found = []
    for name in (*rules.AUTOGRAD_PACKAGES, rules.PACKAGE):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        for location in (spec.submodule_search_locations or []) if spec else []:
            folder = Path(location).resolve()
            if folder.is_dir() and any(folder.is_relative_to(root.resolve()) for root in roots):
                found.append(folder)
    return sorted(set(found))


def student_site(destination: Path) -> Path:
    """``destination/seqlab/``: the course package as student code may see it, its helpers alone.

    Each module of ``rules.STUDENT_MODULES`` is copied with the package's ``__init__``; a helper that
    imported another module of the package would carry it in, so that is refused here.
    """
    import importlib.util

    package = destination / rules.PACKAGE
    shutil.rmtree(package, ignore_errors=True)
    package.mkdir(parents=True)
    init = importlib.util.find_spec(rules.PACKAGE)
    shutil.copyfile(init.origin, package / "__init__.py")
    for module in rules.STUDENT_MODULES:
        origin = Path(importlib.util.find_spec(module).origin)
        for imported, _, _ in rules.imports_of(origin.read_text()):
            if imported.split(".")[0] == rules.PACKAGE and not rules.is_student_module(imported):
                raise RuntimeError(f"{module} imports {imported}, which student code may not see")
        shutil.copyfile(origin, package / origin.name)
    for path in [destination, package, *package.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return destination


class Sandbox:
    """One jail around one working folder; ``request()`` sends a message and waits for the reply.

    ``bwrap=None`` runs the server without a jail (the instructor's explicit, unsafe opt-out):
    still a separate process with the same limits, but it can read and write what the grader can.
    """

    def __init__(self, workdir: Path, limits: Limits, bwrap: str | None, slot: int = 0,
                 site: Path | None = None, callbacks: dict | None = None):
        """``site`` holds the student's view of the package (``student_site``); ``callbacks`` maps the
        ids of trusted functions the student's code may call through the grader (``substitute``)."""
        self.workdir, self.limits, self.bwrap, self.slot = Path(workdir), limits, bwrap, slot
        self.site, self.callbacks = site, callbacks if callbacks is not None else {}
        self.process: subprocess.Popen | None = None
        self.stderr_tail = b""

    # -- starting -----------------------------------------------------------------------------
    def command(self, requests_fd: int, replies_fd: int) -> tuple[list[str], dict[str, str]]:
        env = {
            "PATH": f"{Path(sys.prefix) / 'bin'}:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8",
            "IPYTHONDIR": "/tmp/.ipython", "MPLCONFIGDIR": "/tmp/.matplotlib", "MPLBACKEND": "Agg",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "TQDM_DISABLE": "1",
            "GRADER_MAX_OUTPUT_CHARS": str(self.limits.output_chars),
            "GRADER_MAX_MESSAGE_BYTES": str(self.limits.message_bytes),
        }
        # The package's helpers come first on the path; the rest of the package is not in the jail
        # (the venv's editable install points at the repository, which the jail does not bind).
        if self.site is not None:
            env["PYTHONPATH"] = STUDENT_SITE if self.bwrap is not None else str(self.site)
        python = str(Path(sys.prefix) / "bin" / "python")
        if self.bwrap is None:
            server = str(HERE / "sandbox_server.py")
            return [python, "-I", server, str(requests_fd), str(replies_fd)], {**env, "PYTHONSAFEPATH": "1"}
        if os.geteuid() == 0:
            # As root, the jail starts privileged (no user namespace) and the server drops to a
            # uid of its own at once: root is exempt from RLIMIT_NPROC, that uid is not.
            env["GRADER_SANDBOX_UID"] = str(FIRST_SANDBOX_UID + self.slot)
            identity = ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            identity = ["--unshare-user"]
        home = f"/home/student/{self.workdir.name}"
        # The private /tmp comes first: bwrap applies mounts in order, and a later tmpfs on /tmp
        # would hide a course or environment that lives under /tmp (a CI checkout, say).
        mounts: list[str] = ["--perms", "1777", "--size", str(256 * 2**20), "--tmpfs", "/tmp",
                             "--ro-bind", "/usr", "/usr"]
        for link in ("bin", "lib", "lib64", "sbin"):
            if Path(f"/{link}").is_symlink():
                mounts += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
            elif Path(f"/{link}").is_dir():
                mounts += ["--ro-bind", f"/{link}", f"/{link}"]
        folders: set[str] = {"/home", "/home/student", "/grader"}
        for root in _python_roots():
            folders.update(str(p) for p in root.parents if str(p) != "/")
        for folder in sorted(folders, key=lambda f: f.count("/")):
            mounts += ["--perms", "0755", "--dir", folder]  # bwrap would create them 0700
        for root in _python_roots():
            mounts += ["--ro-bind", str(root), str(root)]
        for folder in hidden_packages():
            # An empty folder with an __init__ that refuses the import, in place of the package.
            mounts += ["--tmpfs", str(folder), "--ro-bind", str(BLOCKED_INIT), str(folder / "__init__.py")]
        for name in SERVER_FILES:
            mounts += ["--ro-bind", str(HERE / name), f"/grader/{name}"]
        if self.site is not None:
            mounts += ["--ro-bind", str(self.site), STUDENT_SITE]
        mounts += ["--bind", str(self.workdir), home, "--proc", "/proc", "--dev", "/dev"]
        command = [self.bwrap, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                   "--unshare-cgroup-try", *identity, "--die-with-parent", "--new-session",
                   "--hostname", "sandbox", *mounts, "--chdir", home, "--clearenv"]
        for key, value in env.items():
            command += ["--setenv", key, value]
        return command + [python, "/grader/sandbox_server.py", str(requests_fd), str(replies_fd)], {}

    def _set_limits(self) -> None:  # runs in the child, between fork and exec
        mem, procs, fsize = self.limits.memory_bytes, self.limits.processes, self.limits.file_size_bytes
        if os.geteuid() != 0:
            # Without a uid of its own the jail shares the instructor's process count: allow what runs now.
            procs += sum(1 for _ in Path("/proc").glob("[0-9]*/task/*"))
        for which, value in [(resource.RLIMIT_AS, mem), (resource.RLIMIT_NPROC, procs),
                             (resource.RLIMIT_FSIZE, fsize), (resource.RLIMIT_CORE, 0),
                             (resource.RLIMIT_CPU, int(self.limits.notebook_timeout) + 60)]:
            resource.setrlimit(which, (value, value))

    def start(self) -> None:
        if self.bwrap is not None and os.geteuid() == 0:
            uid = FIRST_SANDBOX_UID + self.slot
            for path in [self.workdir, *self.workdir.rglob("*")]:
                os.chown(path, uid, uid, follow_symlinks=False)
        to_server_r, self.requests = os.pipe()
        self.replies, from_server_w = os.pipe()
        command, env = self.command(to_server_r, from_server_w)
        self.process = subprocess.Popen(
            command, env=env or None, cwd=self.workdir, pass_fds=(to_server_r, from_server_w),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=self._set_limits, start_new_session=True)
        os.close(to_server_r)
        os.close(from_server_w)
        threading.Thread(target=self._drain_stderr, args=(self.process.stderr,), daemon=True).start()

    def _drain_stderr(self, stream) -> None:
        for chunk in iter(lambda: stream.read(4096), b""):
            self.stderr_tail = (self.stderr_tail + chunk)[-4000:]

    # -- talking ------------------------------------------------------------------------------
    def request(self, message: dict, timeout: float) -> dict:
        """Send ``message``; return the reply. Raises SandboxTimeout or SandboxDied (the jail is then gone)."""
        if self.process is None:
            self.start()
        deadline = time.monotonic() + timeout
        try:
            frame = wire.encode(message, self.limits.message_bytes)
            self._write(frame, deadline)
            reply = wire.read_frame(self.replies, self.limits.message_bytes, deadline)
            while isinstance(reply, dict) and reply.get("op") == "callback":
                # The student's code called a trusted function (see ``callback``): answer, and wait on.
                self._write(wire.encode(self.callback(reply), self.limits.message_bytes), deadline)
                reply = wire.read_frame(self.replies, self.limits.message_bytes, deadline)
        except wire.Timeout:
            self.kill()
            raise SandboxTimeout(f"no answer within {timeout:.0f} s") from None
        except (wire.ProtocolError, OSError) as exc:
            reason = self.kill()
            raise SandboxDied(reason or str(exc)) from None
        if not isinstance(reply, dict):
            self.kill()
            raise SandboxDied("the sandbox sent something other than a reply")
        return reply

    def callback(self, request: dict) -> dict:
        """Run the trusted function ``request["id"]`` on the plain data the sandbox sent.

        This is how a test hands the student's code a correct helper (``seqlab.checks.substitute``)
        without its code entering the sandbox: the student's side holds a stub that calls back here.
        """
        function = self.callbacks.get(request.get("id"))
        args, kwargs = request.get("args"), request.get("kwargs")
        if function is None or not isinstance(args, list) or not isinstance(kwargs, dict):
            return {"error": {"ename": "RuntimeError", "evalue": "no such helper", "traceback": ""}}
        try:
            result = function(*args, **kwargs)
            wire.encode(result, self.limits.message_bytes)
        except Exception as exc:  # the helper refused the student's arguments: the student sees why
            return {"error": {"ename": type(exc).__name__, "evalue": str(exc)[:2000], "traceback": ""}}
        return {"result": result, "args": args, "kwargs": kwargs, "error": None}

    def _write(self, frame: bytes, deadline: float) -> None:
        import select

        view = memoryview(frame)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([], [self.requests], [], remaining)[1]:
                raise wire.Timeout()
            view = view[os.write(self.requests, view[:65536]):]

    def kill(self) -> str:
        """Stop the jail (all its processes die with it); returns why it ended, in words."""
        if self.process is None:
            return ""
        process, self.process = self.process, None
        exited = process.poll()
        if exited is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        code = process.wait()
        for fd in (self.requests, self.replies):
            try:
                os.close(fd)
            except OSError:
                pass
        if exited is None:
            return ""
        if code < 0 or code > 128:
            number = -code if code < 0 else code - 128
            return f"the process was killed by signal {signal.Signals(number).name}"
        return f"the process exited with code {code} (sys.exit/os._exit or a crash)"

    close = kill
