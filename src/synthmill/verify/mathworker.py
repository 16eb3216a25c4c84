"""math-verify in a worker process with a hard timeout.

math-verify times itself out with signal.alarm, which only works in a main thread and
cannot stop a hang inside C code. So it runs in a child process's main thread; when an
answer takes longer than the timeout the child is killed and a fresh one started.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import logging
import os
import re
import select
import subprocess
import sys
import threading
from typing import Any

from synthmill.errors import MissingExtraError

log = logging.getLogger(__name__)

# math-verify's defaults (float_rounding=6, numeric_precision=15) call 1/2^99 equal to
# 1/2^98; these tell them apart while still matching exact rationals and surds.
FLOAT_ROUNDING = 40
NUMERIC_PRECISION = 60
STARTUP_SECONDS = 120.0


def as_math(text: str) -> str:
    """Wrap a bare answer in $...$ so math-verify reads it as LaTeX; leave prose alone."""
    if "$" in text or "\\boxed" in text or "\\(" in text or "\\[" in text:
        return text
    if re.search(r"(?<![\\a-zA-Z])[a-zA-Z]{4,}", re.sub(r"\\[a-zA-Z]+", "", text)):
        return text
    return f"${text}$"


def _serve() -> None:
    """The child: import math-verify once, then answer JSON lines [gold, answer] forever."""
    from math_verify import parse, verify  # type: ignore[import-untyped]

    out = os.fdopen(os.dup(1), "w")
    sys.stdout = sys.stderr  # keep the protocol channel clean of stray prints
    out.write('"ready"\n')
    out.flush()
    for line in sys.stdin:
        gold, answer = json.loads(line)
        try:
            g, a = parse(as_math(gold)), parse(as_math(answer))
            ok = bool(g and a) and verify(
                g, a, float_rounding=FLOAT_ROUNDING, numeric_precision=NUMERIC_PRECISION
            )
            reply: list[Any] = ["ok", bool(ok)]
        except Exception as exc:  # one bad answer must not end the worker; report it
            reply = ["error", f"{type(exc).__name__}: {exc}"[:200]]
        out.write(json.dumps(reply) + "\n")
        out.flush()


class MathWorker:
    """One child process running math-verify; thread-safe, restarted after a timeout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        if importlib.util.find_spec("math_verify") is None:
            raise MissingExtraError("math-verify", "verify")
        proc = subprocess.Popen(
            [sys.executable, "-m", "synthmill.verify.mathworker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._proc = proc
        if self._read(STARTUP_SECONDS) != "ready":
            self.close()
            raise RuntimeError("the math-verify worker did not start; is math-verify installed?")
        return proc

    def _read(self, timeout: float) -> Any:
        """One reply line, or None on timeout or when the child died."""
        assert self._proc is not None and self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
        line = self._proc.stdout.readline() if ready else ""
        return json.loads(line) if line else None

    def check(self, gold: str, answer: str, timeout: float) -> tuple[str, Any]:
        """("ok", bool), ("error", message) or ("timeout", None) for one comparison."""
        with self._lock:
            proc = self._proc or self._start()
            assert proc.stdin is not None
            proc.stdin.write(json.dumps([gold, answer]) + "\n")
            proc.stdin.flush()
            reply = self._read(timeout)
            if reply is None:
                log.debug("math-verify took over %ss; restarting its worker", timeout)
                self.close()
                return ("timeout", None)
            return (str(reply[0]), reply[1])

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(5)
            for stream in (self._proc.stdin, self._proc.stdout):
                if stream is not None:
                    stream.close()
        self._proc = None


_WORKERS: dict[int, MathWorker] = {}
_WORKERS_LOCK = threading.Lock()


def worker() -> MathWorker:
    """This process's worker, started on first use (like a connection, never at import)."""
    pid = os.getpid()
    with _WORKERS_LOCK:
        if pid not in _WORKERS:
            _WORKERS[pid] = MathWorker()
            atexit.register(_WORKERS[pid].close)
        return _WORKERS[pid]


if __name__ == "__main__":
    _serve()
