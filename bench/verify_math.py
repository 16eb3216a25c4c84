"""The math half of bench/verify.py: synthmill's checker against plain math-verify.

One workload, 50% numeric and 50% symbolic, shaped like RL rollouts: each gold answer
is checked against `k` sampled solutions (different texts, some wrong). Plain
math-verify is `verify(parse(gold), parse(solution))` in this process with its default
settings, as a user would call it; synthmill is `check_many` (exact paths in-process,
the rest on one math-verify worker per core). Both see the same (gold, solution) pairs
in the same run; the result is a ratio and each side's false positives.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from synthmill.problems import FAMILIES
from synthmill.problems.base import fmt_decimal
from synthmill.verify.equivalence import MathTask, check_many
from synthmill.verify.mathworker import cores, pool
from synthmill.verify.numbers import parse_number

Case = tuple[str, str, bool]  # gold, solution text, is the solution right


def _numeric_forms(value: Fraction, rng: random.Random) -> list[tuple[str, bool]]:
    """Right and wrong ways a model states a plain number."""
    right = [fmt_decimal(value), f"\\frac{{{value.numerator}}}{{{value.denominator}}}"]
    if value.denominator == 1 and abs(value) >= 1000:
        right.append(f"{value.numerator:,}")
    wrong = [
        fmt_decimal(value + rng.choice([Fraction(1), Fraction(-1), Fraction(1, 10)])),
        f"{value}\\%",
    ]
    return [(f, True) for f in right] + [(f, False) for f in wrong]


def numeric_cases(n: int, k: int, rng: random.Random) -> list[Case]:
    """Generated problems; k solutions per gold in the forms above."""
    names = [f for f in FAMILIES if f.startswith(("arithmetic", "number_theory", "probability"))]
    cases: list[Case] = []
    while len(cases) < n:
        problem = FAMILIES[rng.choice(names)](rng, rng.randint(1, 5))
        value = parse_number(problem.answer)
        if value is None:
            continue
        forms = _numeric_forms(value, rng)
        for form, ok in rng.choices(forms, k=k):
            cases.append((problem.answer, f"Some working.\nThe final answer is ${form}$.", ok))
    return cases[:n]


def _symbolic_golds(rng: random.Random) -> tuple[str, list[tuple[str, bool]]]:
    """One symbolic gold with right and wrong answers that need sympy to tell apart."""
    a, b, c = rng.randint(2, 12), rng.randint(2, 12), rng.choice([2, 3, 5, 6, 7])
    templates = [
        (
            f"{a}\\sqrt{{{c}}}",
            [(f"\\sqrt{{{a * a * c}}}", True), (f"\\sqrt{{{a * a * c + 1}}}", False)],
        ),
        (
            f"x^2 + {a + b}x + {a * b}",
            [(f"(x+{a})(x+{b})", True), (f"(x+{a})(x+{b + 1})", False)],
        ),
        (
            f"\\frac{{{a}\\pi}}{{{b}}}",
            [(f"\\frac{{{a}}}{{{b}}}\\pi", True), (f"\\frac{{{a + 1}}}{{{b}}}\\pi", False)],
        ),
        (
            f"\\frac{{\\sqrt{{{c}}}}}{{{c}}}",
            [(f"\\frac{{1}}{{\\sqrt{{{c}}}}}", True), (f"\\sqrt{{{c}}}", False)],
        ),
        (f"{a}x + {b}", [(f"{b} + {a}x", True), (f"{b} + {a + 1}x", False)]),
        (f"({a}, {a + b}]", [(f"({a}, {a + b}]", True), (f"[{a}, {a + b}]", False)]),
        (f"2^{{{a + 10}}}", [(str(2 ** (a + 10)), True), (str(2 ** (a + 10) + 1), False)]),
        # outside the cheap subset: these go to math-verify
        (f"\\log({c**3})", [(f"3\\log({c})", True), (f"2\\log({c})", False)]),
        (f"\\binom{{{a + 4}}}{{2}}", [(str((a + 4) * (a + 3) // 2), True), (str(a * a), False)]),
        (f"\\{{{a}, {a + b}\\}}", [(f"\\{{{a + b}, {a}\\}}", True), (f"\\{{{a}\\}}", False)]),
        ("\\sin(\\pi/6)", [("\\frac{1}{2}", True), ("\\frac{\\sqrt{3}}{2}", False)]),
    ]
    return rng.choice(templates)


def symbolic_cases(n: int, k: int, rng: random.Random) -> list[Case]:
    """Symbolic golds, each with k solutions (right and wrong), written in varied text."""
    cases: list[Case] = []
    while len(cases) < n:
        gold, answers = _symbolic_golds(rng)
        for i, (answer, ok) in enumerate(rng.choices(answers, k=k)):
            cases.append(
                (gold, f"Step {i}: we simplify.\nSo the answer is $\\boxed{{{answer}}}$.", ok)
            )
    return cases[:n]


def mixed_workload(n: int, k: int = 4, seed: int = 0) -> list[Case]:
    """Half numeric, half symbolic, shuffled."""
    rng = random.Random(seed)
    cases = numeric_cases(n // 2, k, rng) + symbolic_cases(n - n // 2, k, rng)
    rng.shuffle(cases)
    return cases


def plain_math_verify(cases: list[Case]) -> list[bool]:
    """What a user of math-verify writes: parse both, verify, default settings."""
    from math_verify import parse, verify  # type: ignore[import-untyped]

    return [bool(verify(parse(f"${gold}$"), parse(text))) for gold, text, _ in cases]


def synthmill_checker(cases: list[Case], workers: int) -> list[bool]:
    tasks = [MathTask(gold, text) for gold, text, _ in cases]
    return [r.ok for r in check_many(tasks, timeout=10, workers=workers)]


def _score(name: str, fn: Callable[[], list[bool]], cases: list[Case]) -> dict[str, Any]:
    start = time.perf_counter()
    verdicts = fn()
    seconds = time.perf_counter() - start
    expected = [ok for _, _, ok in cases]
    return {
        "checker": name,
        "items": len(cases),
        "seconds": round(seconds, 3),
        "per_second": round(len(cases) / seconds, 1),
        "false_positives": sum(v and not e for v, e in zip(verdicts, expected, strict=True)),
        "false_negatives": sum(e and not v for v, e in zip(verdicts, expected, strict=True)),
    }


def bench_math(n: int, workers: int | None = None) -> dict[str, Any]:
    """Both checkers on one mixed workload (warm: imports and workers started first)."""
    workers = workers or cores()
    cases = mixed_workload(n)
    warm = mixed_workload(40, seed=99)
    plain_math_verify(warm)
    for size in (workers, 1):
        pool(size).start()
        synthmill_checker(warm, size)
    plain = _score(
        "plain math-verify (sequential, defaults)", lambda: plain_math_verify(cases), cases
    )
    ours = _score(
        f"synthmill check_many ({workers} workers)",
        lambda: synthmill_checker(cases, workers),
        cases,
    )
    one = _score("synthmill check_many (1 worker)", lambda: synthmill_checker(cases, 1), cases)
    return {
        "workload": f"{n} checks, 50% numeric / 50% symbolic, 4 solutions per gold",
        "plain_math_verify": plain,
        "synthmill": ours,
        "synthmill_one_worker": one,
        "speedup_vs_plain_math_verify": round(ours["per_second"] / plain["per_second"], 2),
        "speedup_one_worker_vs_plain": round(one["per_second"] / plain["per_second"], 2),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(bench_math(400), indent=2))
