"""Warm sandboxes: one bubblewrap + zygote per concurrent caller, reused run after run.

A `Zygote` is a long-lived process (verify/zygote.py) that the host talks to over a
SOCK_SEQPACKET pair: a JSON job plus the run's file descriptors in, a JSON reply out.
Inside bwrap it forks each run from a warm interpreter and resets the sandbox after it;
a sandbox that reports itself unclean, dies, or misses its deadline is thrown away.
Without bwrap (`--unsafe-no-sandbox`) a zygote serves one run and is killed with its
session. bwrap's --die-with-parent fires when the *thread* that started it exits, so
sandboxes are started from one long-lived thread per process.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

ZYGOTE_SOURCE = (Path(__file__).parent / "zygote.py").read_text(encoding="utf-8")
MAX_IDLE = 8  # warm sandboxes kept per shape; more concurrent callers get fresh ones
Command = Callable[[], tuple[list[str], dict[str, Any]]]


class Zygote:
    """One zygote process and the socket to it."""

    def __init__(self, command: Command, isolated: bool) -> None:
        self.isolated = isolated
        self.ctrl, inner = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with inner:
            argv, popen = command()
            args = [*argv, "-I", "-B", "-c", ZYGOTE_SOURCE, str(inner.fileno())]
            args.append("isolated" if isolated else "host")
            passed = tuple(popen.get("pass_fds", ()))
            popen["pass_fds"] = (inner.fileno(), *passed)
            try:
                self.proc = _spawn(args, popen) if isolated else subprocess.Popen(args, **popen)
            finally:
                for fd in passed:  # the child's now
                    os.close(fd)
        self.alive = True

    def run(self, job: dict[str, Any], fds: list[int], timeout: float) -> dict[str, Any] | None:
        """Send one job; the zygote's reply, or None (and the zygote killed) on any trouble."""
        try:
            socket.send_fds(self.ctrl, [json.dumps(job).encode()], fds)
            self.ctrl.settimeout(timeout)
            data = self.ctrl.recv(1 << 16)
            reply: dict[str, Any] = json.loads(data)
        except (OSError, ValueError):
            self.close()
            return None
        if not reply.get("clean", False) or not self.isolated:
            self.close()
        return reply

    def close(self) -> None:
        """Close the socket (the zygote exits) and kill what is left of its session."""
        self.alive = False
        self.ctrl.close()
        if self.proc.returncode is not None:
            return  # reaped: its process group id may belong to someone else now
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # unreaped, so the id is still its
        with suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


class Pool:
    """Idle sandboxes by shape; a caller leases one per run and gives it back if clean."""

    def __init__(self) -> None:
        self._idle: dict[Any, list[Zygote]] = {}
        self._lock = threading.Lock()
        self.started = 0

    @contextmanager
    def lease(self, shape: Any, command: Command, reuse: bool = True) -> Iterator[Zygote]:
        """A warm sandbox of this shape (a new one when reuse is False, closed after)."""
        with self._lock:
            idle = self._idle.get(shape, [])
            box = idle.pop() if idle and reuse else None
        if box is None:
            box = Zygote(command, isolated=True)
            self.started += 1
        try:
            yield box
        finally:
            with self._lock:
                idle = self._idle.setdefault(shape, [])
                if box.alive and reuse and len(idle) < MAX_IDLE:
                    idle.append(box)
                    box = None
            if box is not None:
                box.close()

    def close(self) -> None:
        with self._lock:
            boxes = [b for idle in self._idle.values() for b in idle]
            self._idle.clear()
        for box in boxes:
            box.close()

    def forget(self) -> None:
        """In a forked child: drop the parent's sandboxes without touching them."""
        self._idle = {}
        self._lock = threading.Lock()
        self.started = 0


POOL = Pool()
atexit.register(POOL.close)
os.register_at_fork(after_in_child=POOL.forget)


class _Spawner:
    """Popen from one daemon thread that lives as long as the process."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Future[subprocess.Popen[bytes]], list[str], dict[str, Any]]]
        self._jobs = queue.Queue()
        self._pid = -1
        self._lock = threading.Lock()

    def popen(self, args: list[str], kwargs: dict[str, Any]) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._jobs = queue.Queue()
                threading.Thread(target=self._loop, args=(self._jobs,), daemon=True).start()
            done: Future[subprocess.Popen[bytes]] = Future()
            self._jobs.put((done, args, kwargs))
        return done.result()

    @staticmethod
    def _loop(jobs: queue.Queue[tuple[Future[Any], list[str], dict[str, Any]]]) -> None:
        while True:
            done, args, kwargs = jobs.get()
            try:
                done.set_result(subprocess.Popen(args, **kwargs))
            except BaseException as exc:  # handed to the caller
                done.set_exception(exc)


_SPAWNER = _Spawner()


def _spawn(args: list[str], popen: dict[str, Any]) -> subprocess.Popen[bytes]:
    return _SPAWNER.popen(args, popen)
