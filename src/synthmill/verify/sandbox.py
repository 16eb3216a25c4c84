"""Run untrusted Python in a bubblewrap sandbox with rlimits and a wall-clock timeout.

The program runs in a separate process inside bwrap: every namespace unshared (no
network), a read-only view of /usr and the Python installation only, a private tmpfs
as /tmp, a cleared environment, --die-with-parent and a new session. A small harness
sets rlimits (CPU, address space, processes, file size, open files, no core dumps)
before executing the code. stdout/stderr go to files (capped by the file-size limit)
of which only the first bytes are read back. The wall clock kills the process group.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from typing import IO, Any, Literal

from synthmill.errors import SynthmillError

Status = Literal["passed", "failed", "timeout", "memory", "output_limit", "process_limit", "killed"]
HOW_TO_FIX = (
    "install bubblewrap (apt-get install -y bubblewrap, or ./setup.sh as root), "
    "or pass --unsafe-no-sandbox to run untrusted code without it"
)

# Runs inside the sandbox: read the program from stdin, set limits, execute it.
HARNESS = """\
import resource, sys
cpu, mem, nproc, fsize, nofile = (int(x) for x in sys.argv[1:6])
src = sys.stdin.read()
sys.stdin.close()
R = resource
for what, soft, hard in ((R.RLIMIT_CPU, cpu, cpu + 1), (R.RLIMIT_AS, mem, mem),
                         (R.RLIMIT_NPROC, nproc, nproc), (R.RLIMIT_FSIZE, fsize, fsize),
                         (R.RLIMIT_NOFILE, nofile, nofile), (R.RLIMIT_CORE, 0, 0)):
    R.setrlimit(what, (soft, hard))
del R, resource, cpu, mem, nproc, fsize, nofile, what, soft, hard
exec(compile(src, "program.py", "exec"), {"__name__": "__main__"})
"""


class SandboxUnavailable(SynthmillError, RuntimeError):
    """bubblewrap is missing or cannot create namespaces here."""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one run."""

    wall_seconds: float = 10.0
    cpu_seconds: int = 5
    memory_mb: int = 512
    processes: int = 32
    file_size_mb: int = 8
    open_files: int = 64
    output_bytes: int = 16_384
    tmpfs_mb: int = 64


@dataclass(frozen=True)
class RunResult:
    """What happened: a short status, the exit code, capped output, and timing."""

    status: Status
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    sandboxed: bool

    @property
    def ok(self) -> bool:
        return self.status == "passed"


@functools.lru_cache(maxsize=1)
def bwrap_works() -> bool:
    """True when bwrap is installed, can create our namespaces, and runs Python inside."""
    exe = shutil.which("bwrap")
    if exe is None:
        return False
    args = [*bwrap_command(Limits()), sandbox_python(), "-I", "-c", "pass"]
    try:
        done = subprocess.run(
            args, capture_output=True, timeout=30, check=False, cwd="/", env={}, **_as_user(True)
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def require_sandbox(unsafe_no_sandbox: bool) -> bool:
    """Whether to sandbox; raises when bwrap is unusable and the user did not opt out."""
    if bwrap_works():
        return True
    if unsafe_no_sandbox:
        return False
    raise SandboxUnavailable(f"cannot sandbox untrusted code: bwrap is unusable; {HOW_TO_FIX}")


NOBODY = 65534


def _drop_to_nobody() -> bool:
    """As root, run bwrap as nobody: the kernel exempts uid 0 from RLIMIT_NPROC."""
    return os.geteuid() == 0


def _world_readable(path: str) -> bool:
    """Whether every directory above `path` lets others through (nobody can run it)."""
    parts = os.path.realpath(path).split(os.sep)
    for i in range(2, len(parts) + 1):
        mode = os.stat(os.sep.join(parts[:i]) or os.sep).st_mode
        if not mode & 0o001:
            return False
    return True


@functools.lru_cache(maxsize=1)
def sandbox_python() -> str:
    """The interpreter run inside the sandbox: ours, or the system one if nobody cannot."""
    exe = os.path.realpath(sys.executable)
    if not _drop_to_nobody() or _world_readable(exe):
        return exe
    return os.path.realpath(shutil.which("python3", path="/usr/bin:/bin") or exe)


def bwrap_command(limits: Limits) -> list[str]:
    """The bwrap prefix: no namespaces shared, read-only system, private /tmp."""
    root = os.path.dirname(os.path.dirname(sandbox_python()))
    cmd = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-all",
        "--unshare-user",
        "--uid",
        str(NOBODY),
        "--gid",
        str(NOBODY),
    ]
    cmd += ["--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr"]
    for link in ("bin", "lib", "lib64", "sbin"):
        if os.path.islink(f"/{link}"):
            cmd += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
    if not root.startswith("/usr"):
        cmd += ["--ro-bind", root, root]
    cmd += ["--proc", "/proc", "--dev", "/dev"]
    cmd += ["--size", str(limits.tmpfs_mb * 2**20), "--tmpfs", "/tmp", "--chdir", "/tmp"]
    cmd += ["--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp"]
    return cmd


def _python_command(limits: Limits, sandbox: bool) -> list[str]:
    exe = sandbox_python() if sandbox else os.path.realpath(sys.executable)
    numbers = (
        limits.cpu_seconds,
        limits.memory_mb * 2**20,
        limits.processes,
        limits.file_size_mb * 2**20,
        limits.open_files,
    )
    return [exe, "-I", "-B", "-c", HARNESS, *(str(n) for n in numbers)]


def run_python(code: str, limits: Limits | None = None, *, sandbox: bool = True) -> RunResult:
    """Run `code` with the limits; sandbox=False runs it unsandboxed (trusted code only)."""
    limits = limits or Limits()
    cmd = _python_command(limits, sandbox)
    if sandbox:
        cmd = bwrap_command(limits) + cmd
    with tempfile.TemporaryDirectory(prefix="synthmill-run-") as work, ExitStack() as stack:
        streams: list[IO[bytes]] = [
            stack.enter_context(open(os.path.join(work, n), "w+b")) for n in ("in", "out", "err")
        ]
        streams[0].write(code.encode())
        streams[0].seek(0)
        return _execute(cmd, limits, streams, work, sandbox)


def _execute(
    cmd: list[str], limits: Limits, streams: list[IO[bytes]], work: str, sandbox: bool
) -> RunResult:
    # bwrap itself gets a clean environment too: its init process is pid 1 inside the
    # sandbox, and /proc/1/environ would otherwise show the caller's secrets.
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp" if sandbox else work}
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdin=streams[0], stdout=streams[1], stderr=streams[2], cwd="/" if sandbox else work,
        env=env, start_new_session=True, **_as_user(sandbox),
    )  # fmt: skip
    timed_out = False
    try:
        proc.wait(timeout=limits.wall_seconds)
    except subprocess.TimeoutExpired:
        timed_out = True
    _kill_group(proc.pid)
    proc.wait()
    seconds = time.perf_counter() - start
    out, err = (_head(s, limits.output_bytes) for s in streams[1:])
    sizes = [os.fstat(s.fileno()).st_size for s in streams[1:]]
    status = _status(proc.returncode, timed_out, err, max(sizes) >= limits.file_size_mb * 2**20)
    return RunResult(status, proc.returncode, out, err, seconds, sandbox)


def _as_user(sandbox: bool) -> dict[str, Any]:
    """Popen arguments that run bwrap as nobody when we are root."""
    if sandbox and _drop_to_nobody():
        return {"user": NOBODY, "group": NOBODY, "extra_groups": []}
    return {}


def _kill_group(pid: int) -> None:
    """Kill whatever is left of the run's session (background children included)."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _head(stream: IO[bytes], limit: int) -> str:
    stream.seek(0)
    return stream.read(limit).decode("utf-8", "replace")


def _status(code: int, timed_out: bool, stderr: str, output_full: bool) -> Status:
    """Name the outcome; bwrap reports a child killed by signal N as exit code 128+N."""
    if timed_out:
        return "timeout"
    if output_full or "OSError: [Errno 27]" in stderr:
        return "output_limit"
    if "MemoryError" in stderr:
        return "memory"
    if "BlockingIOError: [Errno 11]" in stderr:
        return "process_limit"
    signum = -code if code < 0 else code - 128 if code > 128 else 0
    if signum in (signal.SIGXCPU, signal.SIGKILL) and "Traceback" not in stderr:
        return "timeout" if signum == signal.SIGXCPU else "killed"
    if signum == signal.SIGXFSZ:
        return "output_limit"
    if signum:
        return "killed"
    return "passed" if code == 0 else "failed"


def allow_unsandboxed(stages: Iterable[object]) -> None:
    """What `synthmill run --unsafe-no-sandbox` does: opt every stage that can out."""
    for stage in stages:
        if "unsafe_no_sandbox" in getattr(type(stage), "model_fields", {}):
            stage.unsafe_no_sandbox = True  # type: ignore[attr-defined]
