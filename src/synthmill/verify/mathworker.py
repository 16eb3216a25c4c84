"""math-verify in worker processes (one per core) with a hard timeout.

math-verify times itself out with signal.alarm, which only works in a main thread and
cannot stop a hang inside C code. So it runs in child processes; when an answer takes
longer than the timeout its child is killed and a fresh one started. Each child parses
a gold answer once and keeps it.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import logging
import os
import queue
import re
import select
import subprocess
import sys
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from synthmill.errors import MissingExtraError
from synthmill.verify import fastsym

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
    commands = r"\\(?:begin|end|text|mathrm|operatorname)\{[^{}]*\}|\\[a-zA-Z]+"
    if re.search(r"(?<![\\a-zA-Z])[a-zA-Z]{4,}", re.sub(commands, "", text)):
        return text
    return f"${text}$"


GOLD_CACHE_SIZE = 4096


class _Gold:
    """A gold answer parsed once: the cheap subset form, and math-verify's (when needed)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.fast = fastsym.to_sympy(text)
        self._parsed: Any = None

    def parsed(self, parse: Any) -> Any:
        if self._parsed is None:
            self._parsed = parse(as_math(self.text), parsing_timeout=None)
        return self._parsed


def _exact_value_check(gold: list[Any], answer: str) -> bool | None:
    """A plain-number answer against a constant gold, exactly (no float rounding): 50
    digits of sqrt(2) are not sqrt(2), but 1024 is 2^{10}. None when it cannot decide."""
    import sympy  # type: ignore[import-untyped]

    from synthmill.verify.numbers import parse_number

    value = parse_number(answer)
    expr = next((g for g in gold if isinstance(g, sympy.Expr)), None)
    if value is None or expr is None or expr.free_symbols or not expr.is_number:
        return None
    zero = sympy.simplify(expr - sympy.Rational(value.numerator, value.denominator)).is_zero
    return None if zero is None else bool(zero)


def _decide(golds: dict[str, _Gold], gold: str, answer: str, parse: Any, verify: Any) -> bool:
    """The cheap symbolic path when it can decide, else math-verify at raised precision."""
    if gold not in golds:
        if len(golds) >= GOLD_CACHE_SIZE:
            golds.pop(next(iter(golds)))
        golds[gold] = _Gold(gold)
    g = golds[gold]
    quick = fastsym.compare(g.fast, fastsym.to_sympy(answer)) if g.fast is not None else None
    if quick is not None:
        return quick
    parsed = g.parsed(parse)
    exact = _exact_value_check(parsed, answer)
    if exact is not None:
        return exact
    a = parse(as_math(answer), parsing_timeout=None)
    return bool(parsed and a) and bool(
        verify(
            parsed,
            a,
            float_rounding=FLOAT_ROUNDING,
            numeric_precision=NUMERIC_PRECISION,
            timeout_seconds=None,
        )
    )


def _serve() -> None:
    """The child: import math-verify once, then answer JSON lines [gold, answer] forever.

    Each gold is parsed once and cached (k samples of one problem share it). math-verify's
    own signal timeouts are off: the parent kills this process when an answer hangs.
    """
    import logging as _logging

    from math_verify import parse, verify  # type: ignore[import-untyped]

    _logging.disable(_logging.WARNING)  # math-verify warns once that its timeout is off
    golds: dict[str, Any] = {}
    out = os.fdopen(os.dup(1), "w")
    sys.stdout = sys.stderr  # keep the protocol channel clean of stray prints
    out.write('"ready"\n')
    out.flush()
    for line in sys.stdin:
        gold, answer = json.loads(line)
        try:
            reply: list[Any] = ["ok", _decide(golds, gold, answer, parse, verify)]
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


class MathPool:
    """One math-verify worker per core; comparisons of a batch run on all of them at once."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        # last in, first out: one-at-a-time callers keep one warm worker and its gold cache
        self._idle: queue.LifoQueue[MathWorker] = queue.LifoQueue()
        self._workers = [MathWorker() for _ in range(self.size)]
        for w in self._workers:
            self._idle.put(w)

    def start(self) -> None:
        """Start every worker now (they start on first use otherwise); for benchmarks."""
        for w in self._workers:
            w.check("1", "1", STARTUP_SECONDS)

    def check(self, gold: str, answer: str, timeout: float) -> tuple[str, Any]:
        """One comparison on whichever worker is free."""
        w = self._idle.get()
        try:
            return w.check(gold, answer, timeout)
        finally:
            self._idle.put(w)

    def check_many(self, pairs: list[tuple[str, str]], timeout: float) -> list[tuple[str, Any]]:
        """Many comparisons spread over the workers, results in input order.

        Pairs with the same gold go to the same worker, so each gold is parsed once.
        """
        if len(pairs) <= 1 or self.size == 1:
            return [self.check(g, a, timeout) for g, a in pairs]
        shares: list[list[int]] = [[] for _ in self._workers]
        for i, (gold, _) in enumerate(pairs):
            shares[zlib.crc32(gold.encode()) % self.size].append(i)
        results: list[tuple[str, Any]] = [("error", "not run")] * len(pairs)

        def run(w: MathWorker, share: list[int]) -> None:
            for i in share:
                results[i] = w.check(pairs[i][0], pairs[i][1], timeout)

        with ThreadPoolExecutor(self.size) as threads:
            list(threads.map(run, self._workers, shares))
        return results

    def close(self) -> None:
        for w in self._workers:
            w.close()


def cores() -> int:
    """CPUs this process may use (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_POOLS: dict[tuple[int, int], MathPool] = {}
_POOLS_LOCK = threading.Lock()


def pool(size: int | None = None) -> MathPool:
    """This process's pool of `size` workers (default: one per core), started lazily."""
    key = (os.getpid(), size or cores())
    with _POOLS_LOCK:
        if key not in _POOLS:
            _POOLS[key] = MathPool(key[1])
            atexit.register(_POOLS[key].close)
        return _POOLS[key]


def worker() -> MathPool:
    """This process's default pool (kept for callers that check one pair at a time)."""
    return pool()


if __name__ == "__main__":
    _serve()
