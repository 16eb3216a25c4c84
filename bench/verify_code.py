"""The code part of bench/verify.py: judged sandboxed runs/s against a bare subprocess.

Each case is a HumanEval canonical solution with its tests. The bare path is what an
unguarded checker does: `python3 -c "solution + tests + check(entry)"` in a subprocess
(same interpreter as the sandbox, no isolation, gameable). The sandboxed path is
`run_solution`: a warm bubblewrap sandbox per worker, candidate and judge in separate
processes. Both run in the same process, alternating in rounds, sequentially and in a
process pool, so the ratios compare like with like on a shared machine.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from synthmill.problems.humaneval import load_humaneval
from synthmill.verify.code_check import program, run_solution
from synthmill.verify.sandbox import sandbox_python

Case = tuple[str, str, str]


def sandboxed(case: Case) -> bool:
    return run_solution(*case).ok


def bare(case: Case) -> bool:
    cmd = [sandbox_python(), "-c", program(*case)]
    return subprocess.run(cmd, capture_output=True, timeout=30, check=False).returncode == 0


def _warm(fn: Callable[[Case], bool], case: Case) -> None:
    fn(case)  # starts this worker's sandbox, pages in the interpreter


def _timed(fn: Callable[[Case], bool], cases: Sequence[Case], workers: int) -> tuple[float, bool]:
    """Seconds for all cases (workers warmed first) and whether every run passed."""
    if workers == 1:
        _warm(fn, cases[0])
        start = time.perf_counter()
        ok = all([fn(c) for c in cases])
        return time.perf_counter() - start, ok
    with ProcessPoolExecutor(workers, initializer=_warm, initargs=(fn, cases[0])) as pool:
        list(pool.map(fn, cases[:workers]))
        start = time.perf_counter()
        ok = all(pool.map(fn, cases, chunksize=2))
        return time.perf_counter() - start, ok


def _setting(cases: Sequence[Case], workers: int, rounds: int) -> dict[str, Any]:
    """Both paths, alternating for `rounds`, and their ratio."""
    seconds = {"sandboxed": 0.0, "bare": 0.0}
    ok = {"sandboxed": True, "bare": True}
    for _ in range(rounds):
        for name, fn in (("bare", bare), ("sandboxed", sandboxed)):
            took, passed = _timed(fn, cases, workers)
            seconds[name] += took
            ok[name] &= passed
    runs = len(cases) * rounds
    rate = {name: runs / s for name, s in seconds.items()}
    return {
        "workers": workers,
        "runs_per_path": runs,
        "sandboxed_per_second": round(rate["sandboxed"], 1),
        "bare_per_second": round(rate["bare"], 1),
        "ratio_sandboxed_to_bare": round(rate["sandboxed"] / rate["bare"], 2),
        "sandboxed_per_second_per_worker": round(rate["sandboxed"] / workers, 1),
        "all_canonical_passed": ok,
    }


def bench_code(n: int, workers: int, rounds: int = 2) -> dict[str, Any]:
    """Sequential and pooled settings for the first n HumanEval tasks, with the goals."""
    tasks = load_humaneval()[:n]
    cases = [(t["prompt"] + t["canonical_solution"], t["test"], t["entry_point"]) for t in tasks]
    sequential = _setting(cases, 1, rounds)
    pooled = _setting(cases, workers, rounds)
    return {
        "code_sequential": sequential,
        f"code_pool{workers}": pooled,
        "code_goals": {
            "ratio_per_core_at_least_0.6": sequential["ratio_sandboxed_to_bare"] >= 0.6,
            f"pool{workers}_at_least_40_per_second": pooled["sandboxed_per_second"] >= 40,
        },
    }
