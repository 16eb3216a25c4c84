"""Run untrusted Python in a bubblewrap sandbox with rlimits and a wall-clock timeout.

The sandbox: every namespace unshared (no network), no nested user namespaces, a
read-only view of /usr and the Python installation only, a read-only root and /dev, a
size-capped tmpfs as /tmp and as /dev/shm (both carved out of `memory_mb`), a cleared
environment, a new session, a seccomp filter (verify/seccomp.py) and `nobody` as the
user. A warm zygote inside (verify/zygote.py, one per concurrent caller) forks each run,
sets rlimits (CPU, address space, processes, file size, open files, no core dumps),
enforces the wall clock and a file count, then kills every process the run left and
wipes the tmpfs before the next one. stdout/stderr go to host files capped by the
file-size limit, of which only the first bytes are read back.

`run_python` runs a program in a fresh interpreter ("passed" = exit code 0).
`run_check` is the judge: the candidate and the trusted tests run in separate processes
and only the judge, holding a per-run token, can report a pass (see zygote.py).
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO, Any, Literal

from synthmill.errors import SynthmillError
from synthmill.verify import seccomp
from synthmill.verify.sandbox_pool import POOL, Zygote

Status = Literal["passed", "failed", "timeout", "memory", "output_limit", "process_limit", "killed"]
HOW_TO_FIX = (
    "install bubblewrap (apt-get install -y bubblewrap, or ./setup.sh as root), "
    "or pass --unsafe-no-sandbox to run untrusted code without it"
)
NOBODY = 65534
GRACE_SECONDS = 5.0  # the host's own deadline past the zygote's wall clock


class SandboxUnavailable(SynthmillError, RuntimeError):
    """bubblewrap is missing or cannot create namespaces here."""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one run. `memory_mb` covers the address space and the tmpfs."""

    wall_seconds: float = 10.0
    cpu_seconds: int = 5
    memory_mb: int = 512
    processes: int = 32
    file_size_mb: int = 8
    open_files: int = 64
    output_bytes: int = 16_384
    tmpfs_mb: int = 64
    max_files: int = 4096

    @property
    def tmp_bytes(self) -> int:
        """The /tmp cap: tmpfs_mb, at most a quarter of the memory budget."""
        return min(self.tmpfs_mb, self.memory_mb // 4) * 2**20

    @property
    def shm_bytes(self) -> int:
        """The /dev/shm cap: a sixteenth of the memory budget, at most 16 MB."""
        return max(1, min(16, self.memory_mb // 16)) * 2**20

    @property
    def address_space(self) -> int:
        """What is left of memory_mb for each process once the tmpfs are full."""
        return self.memory_mb * 2**20 - self.tmp_bytes - self.shm_bytes


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


# ---- bubblewrap ------------------------------------------------------------------------
def bwrap_works() -> bool:
    """True when bwrap is installed, can create our namespaces, and runs Python inside."""
    return _bwrap_works_at(shutil.which("bwrap"))


@functools.lru_cache(maxsize=4)
def _bwrap_works_at(path: str | None) -> bool:
    """The check, once per bwrap found on PATH (a changed PATH is looked at again)."""
    if path is None:
        return False
    argv, popen = _sandbox_command(Limits())
    popen.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        done = subprocess.run([*argv, "-I", "-c", "pass"], timeout=30, check=False, **popen)
    except (OSError, subprocess.TimeoutExpired):
        return False
    finally:
        for fd in popen["pass_fds"]:
            os.close(fd)
    return done.returncode == 0


def require_sandbox(unsafe_no_sandbox: bool) -> bool:
    """Whether to sandbox; raises when bwrap is unusable and the user did not opt out."""
    if bwrap_works():
        return True
    if unsafe_no_sandbox:
        return False
    raise SandboxUnavailable(f"cannot sandbox untrusted code: bwrap is unusable; {HOW_TO_FIX}")


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


@functools.lru_cache(maxsize=1)
def _bwrap_options() -> str:
    done = subprocess.run(["bwrap", "--help"], capture_output=True, text=True, check=False)
    return done.stdout + done.stderr


def bwrap_command(limits: Limits, seccomp_fd: int | None = None) -> list[str]:
    """The bwrap prefix: no namespaces shared, read-only system, capped private tmpfs."""
    root = os.path.dirname(os.path.dirname(sandbox_python()))
    cmd = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--unshare-user"]
    cmd += ["--uid", str(NOBODY), "--gid", str(NOBODY)]
    if "--disable-userns" in _bwrap_options():
        cmd.append("--disable-userns")
    cmd += ["--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr"]
    for link in ("bin", "lib", "lib64", "sbin"):
        if os.path.islink(f"/{link}"):
            cmd += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
    if not root.startswith("/usr"):
        cmd += ["--ro-bind", root, root]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev"]
    cmd += ["--size", str(limits.shm_bytes), "--tmpfs", "/dev/shm"]
    cmd += ["--size", str(limits.tmp_bytes), "--tmpfs", "/tmp", "--remount-ro", "/"]
    cmd += ["--chdir", "/tmp", "--clearenv", "--setenv", "PATH", "/usr/bin:/bin"]
    cmd += ["--setenv", "HOME", "/tmp"]
    if seccomp_fd is not None:
        cmd += ["--seccomp", str(seccomp_fd)]
    return cmd


def _sandbox_command(limits: Limits) -> tuple[list[str], dict[str, Any]]:
    """bwrap + the interpreter, and Popen arguments (the seccomp filter on a pipe)."""
    pass_fds: list[int] = []
    program = seccomp.filter_bytes()
    if program is not None:
        read, write = os.pipe()
        os.write(write, program)
        os.close(write)
        pass_fds.append(read)
    argv = [*bwrap_command(limits, pass_fds[0] if pass_fds else None), sandbox_python()]
    # bwrap itself gets a clean environment too: its init process is pid 1 inside the
    # sandbox, and /proc/1/environ would otherwise show the caller's secrets.
    popen: dict[str, Any] = {
        "env": {"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
        "cwd": "/",
        "start_new_session": True,
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "pass_fds": tuple(pass_fds),
    }
    if _drop_to_nobody():
        popen.update(user=NOBODY, group=NOBODY, extra_groups=[])
    return argv, popen


def _host_command(workdir: str) -> tuple[list[str], dict[str, Any]]:
    """Unsandboxed (trusted code only): this interpreter in its own session."""
    popen = {
        "env": {"PATH": "/usr/bin:/bin", "HOME": workdir},
        "cwd": workdir,
        "start_new_session": True,
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
    }
    return [os.path.realpath(sys.executable)], popen


# ---- running ---------------------------------------------------------------------------
def run_python(
    code: str, limits: Limits | None = None, *, sandbox: bool = True, fresh: bool = False
) -> RunResult:
    """Run `code` with the limits; sandbox=False runs it unsandboxed (trusted code only).

    fresh=True starts a new sandbox for this run instead of a warm one (slower; nothing,
    not even a pid counter, is shared with other runs).
    """
    limits = limits or Limits()
    with ExitStack() as stack:
        files = [stack.enter_context(tempfile.TemporaryFile()) for _ in range(3)]
        files[0].write(code.encode())
        files[0].flush()
        reply, seconds = _dispatch("program", limits, files, sandbox, fresh)
        out, err, full = _outputs(files[1:], limits)
    if reply is None:
        return RunResult("killed", -9, out, err, seconds, sandbox)
    status = _reply_status(reply) or _status(reply["code"], err, full)
    return RunResult(status, _code(reply), out, err, seconds, sandbox)


def run_check(
    code: str,
    tests: str,
    entry_point: str,
    limits: Limits | None = None,
    *,
    sandbox: bool = True,
    helpers: str = "",
    fresh: bool = False,
) -> RunResult:
    """Judge `code` by `tests` (a check(candidate) function) in separate processes.

    `helpers` is trusted code run on the judge's side first (a HumanEval prompt, whose
    helper functions the tests call); global names the tests use and nothing defines are
    called in the candidate's process, like the entry point. `fresh` as in run_python.
    """
    limits = limits or Limits()
    token = secrets.token_hex(16)
    payload = {"token": token, "tests": tests, "entry_point": entry_point, "helpers": helpers}
    with ExitStack() as stack:
        files = [stack.enter_context(tempfile.TemporaryFile()) for _ in range(5)]
        files[0].write(code.encode())
        files[3].write(json.dumps(payload).encode())
        for f in files:
            f.flush()
        reply, seconds = _dispatch("check", limits, files, sandbox, fresh)
        out, err, full = _outputs(files[1:3], limits)
        verdict = _verdict(files[4], token)
    judged = verdict.get("error") or ("" if verdict else "the judge gave no verdict")
    if verdict.get("borrowed"):
        names = ", ".join(map(str, verdict["borrowed"]))
        judged += f" (the tests called the solution's {names}: pass the prompt as helpers)"
    err = f"{err}\n[judge] {judged.strip()}".lstrip("\n") if judged else err
    status = _judged_status(reply, verdict, err, full)
    return RunResult(status, _code(reply), out, err, seconds, sandbox)


def _dispatch(
    mode: str, limits: Limits, files: Sequence[IO[bytes]], sandbox: bool, fresh: bool
) -> tuple[dict[str, Any] | None, float]:
    """Hand one run to a zygote (a warm pooled one when sandboxed); its reply and the time."""
    job = _job(mode, limits)
    fds = [f.fileno() for f in files]
    timeout = limits.wall_seconds + GRACE_SECONDS
    start = time.perf_counter()
    if sandbox:
        shape = (limits.tmp_bytes, limits.shm_bytes)
        with POOL.lease(shape, lambda: _sandbox_command(limits), reuse=not fresh) as box:
            reply = box.run(job, fds, timeout)
    else:
        with tempfile.TemporaryDirectory(prefix="synthmill-run-") as work:
            box = Zygote(lambda: _host_command(work), isolated=False)
            reply = box.run(job, fds, timeout)
            box.close()
    return reply, time.perf_counter() - start


def _job(mode: str, limits: Limits) -> dict[str, Any]:
    return {
        "mode": mode,
        "wall": limits.wall_seconds,
        "cpu": limits.cpu_seconds,
        "memory": limits.address_space,
        "processes": limits.processes,
        "file_size": limits.file_size_mb * 2**20,
        "open_files": limits.open_files,
        "files": limits.max_files,
    }


def _outputs(streams: Sequence[IO[bytes]], limits: Limits) -> tuple[str, str, bool]:
    """The first bytes of stdout and stderr, and whether either hit the file-size limit."""
    texts = []
    for stream in streams:
        stream.seek(0)
        texts.append(stream.read(limits.output_bytes).decode("utf-8", "replace"))
    full = max(os.fstat(s.fileno()).st_size for s in streams) >= limits.file_size_mb * 2**20
    return texts[0], texts[1], full


def _verdict(stream: IO[bytes], token: str) -> dict[str, Any]:
    """The judge's verdict, if the file holds one with this run's token."""
    stream.seek(0)
    try:
        verdict = json.loads(stream.read(1 << 16))
    except ValueError:
        return {}
    if not isinstance(verdict, dict) or not secrets.compare_digest(
        str(verdict.get("token", "")), token
    ):
        return {}
    return verdict


def _code(reply: dict[str, Any] | None) -> int:
    code = None if reply is None else reply.get("code")
    return -9 if code is None else int(code)


# ---- naming the outcome ------------------------------------------------------------------
def _reply_status(reply: dict[str, Any]) -> Status | None:
    """What the zygote saw: the wall clock or the file count ran out."""
    if reply.get("timed_out"):
        return "timeout"
    if reply.get("files"):
        return "output_limit"
    return None


def _judged_status(
    reply: dict[str, Any] | None, verdict: dict[str, Any], text: str, output_full: bool
) -> Status:
    """passed only on the judge's word; otherwise what stopped the candidate."""
    if reply is None:
        return "killed"
    stopped = _reply_status(reply)
    if stopped:
        return stopped
    if verdict.get("passed") is True:
        return "passed"
    if (reply.get("judge") or 0) < 0:
        return "killed"
    code = reply.get("code")
    status = _status(1 if code is None else int(code), text, output_full)
    return "failed" if status == "passed" else status


def _status(code: int, stderr: str, output_full: bool) -> Status:
    """Name the outcome from the exit code (negative: killed by that signal) and stderr."""
    if output_full or "OSError: [Errno 27]" in stderr or "[Errno 28]" in stderr:
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
