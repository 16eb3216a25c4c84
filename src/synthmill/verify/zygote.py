"""Runs INSIDE the sandbox (stdlib only; the host passes this file to `python -c`).

A warm zygote serves one run at a time for the host. It never reads a run's payload:
the host hands it file descriptors, and it forks
- the candidate, which keeps only its code, its stdout/stderr and two call pipes, and
  then serves calls of its functions, answering with plain data;
- the judge, which alone holds the tests, the per-run token and the result file, calls
  the candidate through a proxy, runs the asserts and writes the verdict.
Both are non-dumpable (no ptrace, no /proc/PID/mem or /fd of each other), the judge
blocks every signal it can. After a run the zygote kills every process left in the
sandbox's pid namespace (kill(-1) spares only itself and init), reaps them, wipes the
writable tmpfs and reports whether the sandbox is clean. In program mode it runs code in
a fresh interpreter instead (no judge). Outside bwrap (unsafe mode) it never kills
broadly nor wipes anything.
"""

from __future__ import annotations

import base64
import builtins
import collections
import contextlib
import ctypes
import fcntl
import gc
import io
import json
import linecache
import os
import resource
import select
import signal
import socket
import struct
import sys
import time
import traceback
import types
from collections.abc import Callable
from typing import Any, NoReturn

WIPED = ("/tmp", "/dev/shm")
PRELOAD = "math re string itertools functools heapq bisect typing hashlib copy random fractions"
MAX_MESSAGE = 64 << 20
POLL_SECONDS = 0.02
PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 4, 36
SAFE_ERRORS = {
    n
    for n, v in vars(builtins).items()
    if isinstance(v, type) and issubclass(v, Exception) and not issubclass(v, Warning)
} - {"StopIteration", "StopAsyncIteration"}
PROGRAM = (
    "import sys\nsrc = sys.stdin.read()\nsys.stdin.close()\n"
    "exec(compile(src, 'program.py', 'exec'), {'__name__': '__main__'})\n"
)


# ---- plain data -----------------------------------------------------------------------
SCALARS = (type(None), bool, int, float, str)
DICTS = (dict, collections.OrderedDict, collections.defaultdict, collections.Counter)


def encode(value: Any) -> Any:
    """Plain data as JSON-ready nodes (tuples, sets, bytes and dicts tagged); else TypeError."""
    kind = type(value)
    if kind in SCALARS:
        return value
    if kind is list or kind is collections.deque:
        return [encode(v) for v in value]
    if kind is tuple:
        return {"t": [encode(v) for v in value]}
    if kind in DICTS:
        return {"d": [[encode(k), encode(v)] for k, v in value.items()]}
    if kind is set or kind is frozenset:
        return {"s" if kind is set else "f": [encode(v) for v in value]}
    if kind is bytes:
        return {"b": base64.b64encode(value).decode()}
    raise TypeError(f"not plain data: {kind.__module__}.{kind.__qualname__}")


class Tagged:
    """A JSON object while decoding: must be exactly one known tag."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs


def decode(node: Any) -> Any:
    """Rebuild plain data from JSON nodes, trusting nothing about them."""
    kind = type(node)
    if kind in SCALARS:
        return node
    if kind is list:
        return [decode(v) for v in node]
    if kind is not Tagged or len(node.pairs) != 1:
        raise ValueError("malformed plain data")
    tag, body = node.pairs[0]
    if tag == "b" and type(body) is str:
        return base64.b64decode(body, validate=True)
    if type(body) is not list:
        raise ValueError("malformed plain data")
    items = [decode(v) for v in body]
    if tag == "t":
        return tuple(items)
    if tag in ("s", "f"):
        return set(items) if tag == "s" else frozenset(items)
    if tag == "d" and all(type(p) is list and len(p) == 2 for p in items):
        return {k: v for k, v in items}
    raise ValueError("malformed plain data")


def send(fd: int, message: Any) -> None:
    data = json.dumps(message).encode()
    os.write(fd, struct.pack(">I", len(data)))
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def read_exact(fd: int, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(fd: int) -> Any:
    """One length-prefixed JSON message (objects kept as Tagged), or None at EOF."""
    head = read_exact(fd, 4)
    if head is None:
        return None
    (size,) = struct.unpack(">I", head)
    if size > MAX_MESSAGE:
        raise ValueError(f"message of {size} bytes is too large")
    data = read_exact(fd, size)
    if data is None:
        return None
    return json.loads(data, object_pairs_hook=Tagged)


# ---- process setup ----------------------------------------------------------------------
def prctl(option: int, value: int) -> None:
    if ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) != 0:
        sys.exit(f"zygote: prctl({option}) failed")


def arrange(fds: list[int]) -> None:
    """Make fds[i] file descriptor i and close every other one."""
    tmp = [fcntl.fcntl(fd, fcntl.F_DUPFD, len(fds)) for fd in fds]
    for i, fd in enumerate(tmp):
        os.dup2(fd, i)
    os.closerange(len(fds), resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def set_limits(job: dict[str, Any]) -> None:
    R = resource
    for what, key in (
        (R.RLIMIT_AS, "memory"),
        (R.RLIMIT_NPROC, "processes"),
        (R.RLIMIT_FSIZE, "file_size"),
        (R.RLIMIT_NOFILE, "open_files"),
    ):
        R.setrlimit(what, (job[key], job[key]))
    R.setrlimit(R.RLIMIT_CPU, (job["cpu"], job["cpu"] + 1))
    R.setrlimit(R.RLIMIT_CORE, (0, 0))  # fmt: skip


def fresh_stdio() -> None:
    """Text streams over fds 0-2 with nothing of the zygote's buffers in them."""
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    for fd, name in ((1, "stdout"), (2, "stderr")):
        raw = io.FileIO(fd, "w", closefd=False)
        setattr(sys, name, io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace"))


def flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # the candidate may have broken its streams
            stream.flush()


def reseed() -> None:
    """Children must not share the zygote's random state (or guess the judge's draws)."""
    # `random` reseeds itself after fork (os.register_at_fork); check, never assume
    if "random" in sys.modules and not hasattr(os, "register_at_fork"):
        sys.modules["random"].seed()
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(100_000)


def read_fd(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    with os.fdopen(os.dup(fd), "rb") as f:
        return f.read()


# ---- the candidate ----------------------------------------------------------------------
def describe(exc: BaseException) -> list[Any]:
    """An exception as plain data: its name, its builtin base classes, its message."""
    kind = type(exc)
    bases = [c.__name__ for c in kind.__mro__ if c.__module__ == "builtins"]
    try:
        text = str(exc)[:500]
    except BaseException:
        text = "?"
    return [kind.__name__, bases, text]


def candidate_main(job: dict[str, Any], fds: list[int]) -> None:
    """fds: code, stdout, stderr, calls in, replies out. Load the code, then serve calls."""
    arrange([fds[0], fds[1], fds[2], fds[5], fds[6]])
    code = read_fd(0)
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    fresh_stdio()
    reseed()
    set_limits(job)
    # imported, not run as a script (as HumanEval's own harness): demos under
    # `if __name__ == "__main__":` that read input() do not run
    module = types.ModuleType("solution")
    module.__file__ = "solution.py"
    sys.modules["solution"] = module
    sys.argv = ["solution.py"]
    reply: dict[str, Any] = {"ready": True}
    try:
        exec(compile(code, "solution.py", "exec"), module.__dict__)
        reply["names"] = [n for n, v in list(vars(module).items()) if callable(v)]
    except BaseException as exc:
        traceback.print_exc()
        reply = {"error": describe(exc)}
    flush()
    send(4, reply)
    if "error" in reply:
        os._exit(1)
    serve(module.__dict__)


def serve(namespace: dict[str, Any]) -> None:
    while True:
        message = receive(3)
        if message is None:
            flush()
            os._exit(0)
        name, args, kwargs = decode(message)
        try:
            reply = {"value": encode(namespace[name](*args, **kwargs))}
            json.dumps(reply)  # fail here (as the candidate's error), not in send
        except BaseException as exc:
            traceback.print_exc()
            reply = {"error": describe(exc)}
        flush()
        send(4, reply)


# ---- the judge --------------------------------------------------------------------------
class CandidateError(Exception):
    """The solution raised something that is not a plain builtin exception."""


CALLS = [0]
BORROWED: list[str] = []


class Proxy:
    """What the tests see as `candidate`: arguments and results cross as plain data."""

    def __init__(self, name: str) -> None:
        self.__name__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        CALLS[0] += 1
        send(3, encode([self.__name__, list(args), kwargs]))
        return answer(receive(4))


def answer(reply: Any) -> Any:
    """The value in a reply, or the candidate's error raised here."""
    if reply is None:
        raise CandidateError("the solution's process ended")
    if type(reply) is not Tagged or len(reply.pairs) != 1:
        raise CandidateError("malformed reply")
    tag, body = reply.pairs[0]
    if tag == "value":
        return decode(body)
    if tag == "error" and type(body) is list and len(body) == 3 and type(body[1]) is list:
        name, text = str(body[0]), str(body[2])
        for base in body[1]:
            if type(base) is str and base in SAFE_ERRORS:
                raise getattr(builtins, base)(text)
        raise CandidateError(f"{name}: {text}")
    raise CandidateError("malformed reply")


def names_in(code: types.CodeType) -> set[str]:
    """Every name the tests' code objects mention (globals among them)."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= names_in(const)
    return names


def compiled(source: str, name: str) -> types.CodeType:
    """Compile trusted source so that tracebacks can quote its lines."""
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    return compile(source, name, "exec")


def judge(payload: dict[str, str]) -> None:
    """Run check(candidate); raise if anything fails."""
    ready = receive(4)
    if type(ready) is not Tagged or ready.pairs[:1] != [("ready", True)]:
        raise CandidateError(f"the solution did not load: {describe_load(ready)}")
    space = {"__name__": "__judge__", "__builtins__": builtins}
    if payload["helpers"]:
        with contextlib.suppress(Exception):  # a prompt need not run on its own
            exec(compiled(payload["helpers"], "prompt.py"), space)
    tests = compiled(payload["tests"], "tests.py")
    exec(tests, space)
    entry = payload["entry_point"]
    space[entry] = proxy = Proxy(entry)
    offered = dict(ready.pairs).get("names")
    defined = {n for n in offered if type(n) is str} if type(offered) is list else set()
    for name in sorted(names_in(tests) & defined - set(space) - set(vars(builtins))):
        space[name] = Proxy(name)  # no trusted prompt defines it: the solution's own
        BORROWED.append(name)
    check = space.get("check")
    if not callable(check):
        raise NameError("the tests define no check(candidate)")
    check(proxy)
    if not CALLS[0]:
        raise AssertionError("the tests never called the solution")


def describe_load(reply: Any) -> str:
    try:
        answer(reply)
    except Exception as exc:  # the candidate's load error, named
        return f"{type(exc).__name__}: {exc}"
    return "no answer"


def judge_main(job: dict[str, Any], fds: list[int]) -> None:
    """fds: tests payload, result file, calls out, replies in."""
    devnull = os.open("/dev/null", os.O_RDWR)
    arrange([devnull, devnull, devnull, fds[7], fds[8], fds[3], fds[4]])
    fresh_stdio()
    reseed()
    set_limits({**job, "processes": 1})
    payload = json.loads(read_fd(5))
    verdict = {"token": payload["token"], "passed": False, "calls": 0, "error": ""}
    try:
        judge(payload)
        verdict["passed"] = True
    except BaseException as exc:
        verdict["error"] = failure(exc)
    verdict["calls"] = CALLS[0]
    verdict["borrowed"] = BORROWED
    os.write(6, json.dumps(verdict).encode())
    os._exit(0)


def failure(exc: BaseException) -> str:
    """The error and where in the tests it happened, in a line or two."""
    where = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "tests.py"]
    line = f" at tests.py line {where[-1].lineno}: {where[-1].line}" if where else ""
    try:
        text = str(exc)[:800]
    except BaseException:
        text = "?"
    return f"{type(exc).__name__}: {text}{line}"[:2000]


# ---- a program in a fresh interpreter -----------------------------------------------------
def program_main(job: dict[str, Any], fds: list[int]) -> None:
    """fds: code, stdout, stderr. Exec a fresh interpreter that reads the code from stdin."""
    arrange([fds[0], fds[1], fds[2]])
    os.lseek(0, 0, os.SEEK_SET)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    set_limits(job)
    os.execv(sys.executable, [sys.executable, "-I", "-B", "-c", PROGRAM])


# ---- the zygote -------------------------------------------------------------------------
def fork(
    main: Callable[[dict[str, Any], list[int]], None], job: dict[str, Any], fds: list[int]
) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            if not ISOLATED:
                os.setpgid(0, 0)
            main(job, fds)
        finally:
            os._exit(70)
    return pid


def wait(pid: int, deadline: float, ctrl: socket.socket, job: dict[str, Any]) -> int | None:
    """The wait status of pid; None when the deadline passed or the run made too many files."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # Linux < 5.3 or Python < 3.9: poll
        fd = -1
    try:
        while True:
            left = max(0.0, min(deadline - time.monotonic(), POLL_SECONDS))
            watched = [ctrl.fileno()] if fd < 0 else [fd, ctrl.fileno()]
            ready, _, _ = select.select(watched, [], [], left if fd >= 0 else min(left, 0.002))
            if ctrl.fileno() in ready:
                shutdown()
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
            if time.monotonic() >= deadline or too_many_files(job):
                return None
    finally:
        if fd >= 0:
            os.close(fd)


def too_many_files(job: dict[str, Any]) -> bool:
    """tmpfs sizes bound bytes, not inodes: count files (each costs kernel memory)."""
    if not ISOLATED:
        return False
    used = 0
    for root in WIPED:
        stat = os.statvfs(root)
        used += stat.f_files - stat.f_ffree
    return bool(used > job["files"] + len(WIPED))


def returncode(status: int | None) -> int | None:
    return None if status is None else os.waitstatus_to_exitcode(status)


def run(job: dict[str, Any], fds: list[int], ctrl: socket.socket) -> dict[str, Any]:
    """One run: fork, wait (wall clock, file count), clean up; the reply for the host."""
    start = time.monotonic()
    deadline = start + job["wall"]
    pipes = []
    try:
        if job["mode"] == "check":
            pipes = [*os.pipe(), *os.pipe()]  # calls r/w, replies r/w
            every = [*fds, pipes[0], pipes[3], pipes[1], pipes[2]]
            worker = fork(candidate_main, job, every)
            main = fork(judge_main, job, every)
        else:
            worker = main = fork(program_main, job, fds)
    finally:
        for fd in [*fds, *pipes]:
            os.close(fd)
    status = wait(main, deadline, ctrl, job)
    reply: dict[str, Any] = {"judge": None, "code": returncode(status)}
    reply["files"] = too_many_files(job)
    reply["timed_out"] = status is None and not reply["files"]
    if main != worker:
        reply["judge"] = reply["code"]
        # the verdict is written; the candidate's status only names a failure, and a
        # candidate that died (limits, signals) is already waitable: look once
        reply["code"] = returncode(wait(worker, 0, ctrl, job))
    reply["clean"] = reset([worker, main])
    reply["seconds"] = time.monotonic() - start
    return reply


def reset(pids: list[int]) -> bool:
    """Kill and reap what the run left; wipe the tmpfs; whether nothing of it remains."""
    if not ISOLATED:
        for pid in pids:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
        reap(os.WNOHANG)
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(-1, signal.SIGKILL)
    reap(0)
    try:
        for root in WIPED:
            wipe(root)
            for name in os.listxattr(root):  # user.* xattrs and ACLs would carry over
                os.removexattr(root, name)
            os.utime(root, (0, 0))  # and so would times set on purpose
        return clean()
    except (OSError, RecursionError):
        return False


def reap(flags: int) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, flags)
        except ChildProcessError:
            return
        if pid == 0:
            return


def wipe(root: str) -> None:
    """Remove everything under root, whatever modes the run left on it."""
    os.chmod(root, 0o755)
    for entry in list(os.scandir(root)):
        if entry.is_dir(follow_symlinks=False):
            wipe(entry.path)
            os.rmdir(entry.path)
        else:
            os.unlink(entry.path)


def clean() -> bool:
    """Only init and the zygote alive, no IPC objects, empty tmpfs."""
    pids = {int(p) for p in os.listdir("/proc") if p.isdigit()}
    if pids - {1, os.getpid()}:
        return False
    for name in ("shm", "msg", "sem"):
        try:
            with open(f"/proc/sysvipc/{name}") as f:
                if len(f.readlines()) > 1:
                    return False
        except OSError:
            pass
    return not any(os.listdir(root) or os.listxattr(root) for root in WIPED)


def shutdown() -> NoReturn:
    reset([])
    os._exit(0)


def check_isolated() -> None:
    """kill(-1) and the wipes are only safe as pid 2 under bwrap's init, as nobody."""
    with open("/proc/1/comm") as f:
        init = f.read().strip()
    if os.getpid() != 2 or init != "bwrap" or os.getuid() == 0:
        sys.exit("zygote: not inside the expected sandbox; refusing to run isolated")


def serve_host(ctrl_fd: int) -> NoReturn:
    ctrl = socket.socket(fileno=ctrl_fd)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(ctrl, 1 << 16, 8)
        except OSError:
            message = b""
        if not message:
            shutdown()
        reply = run(json.loads(message), fds, ctrl)
        ctrl.send(json.dumps(reply).encode())


def main() -> None:
    global ISOLATED
    ISOLATED = sys.argv[2] == "isolated"
    if ISOLATED:
        check_isolated()
    try:
        prctl(PR_SET_DUMPABLE, 0)
        prctl(PR_SET_CHILD_SUBREAPER, 1)
    except (AttributeError, OSError):  # no prctl (not Linux): only the unsafe mode runs here
        if ISOLATED:
            raise
    signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    for name in PRELOAD.split():
        __import__(name)
    gc.collect()
    gc.freeze()  # children then do not touch (copy) the zygote's objects when they collect
    serve_host(int(sys.argv[1]))


ISOLATED = False
if __name__ == "__main__":
    main()
