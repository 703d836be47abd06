"""The grader's side of the sandbox: start a bubblewrap jail around a submission and talk to it.

Inside the jail (``sandbox_server.py``) the student's code sees a read-only system (``/usr``, the
Python installation, the course environment and the ``seqlab`` package), a private ``/tmp``, and
one writable folder: a copy of its own submission. It has no network, no view of ``solutions/``,
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

from autograder import wire

HERE = Path(__file__).resolve().parent
SERVER_FILES = ("sandbox_server.py", "wire.py")
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


def _seqlab_folder() -> Path | None:
    """The folder of the seqlab package this process imports, or None where there is none."""
    import importlib.util

    seqlab = importlib.util.find_spec("seqlab")
    return Path(seqlab.origin).resolve().parent if seqlab and seqlab.origin else None


def _python_roots() -> list[Path]:
    """Folders the jail needs read-only to run this Python: its installation, the venv, seqlab."""
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix)}
    seqlab = _seqlab_folder()
    if seqlab is not None:
        roots.add(seqlab)
    return sorted(roots)


class Sandbox:
    """One jail around one working folder; ``request()`` sends a message and waits for the reply.

    ``bwrap=None`` runs the server without a jail (the instructor's explicit, unsafe opt-out):
    still a separate process with the same limits, but it can read and write what the grader can.
    """

    def __init__(self, workdir: Path, limits: Limits, bwrap: str | None, slot: int = 0):
        self.workdir, self.limits, self.bwrap, self.slot = Path(workdir), limits, bwrap, slot
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
        seqlab = _seqlab_folder()
        if seqlab is not None:
            # The jail imports the very seqlab the grader sees, and that _python_roots binds read-only:
            # not whatever the venv's editable install points at, which may lie outside the jail
            # (a benchmark's copy of the repository sharing the course's venv).
            env["PYTHONPATH"] = str(seqlab.parent)
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
        for name in SERVER_FILES:
            mounts += ["--ro-bind", str(HERE / name), f"/grader/{name}"]
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
