"""Code families: every expected value re-derived by an independent implementation of the
spec (500 seeds per family), the reference passes and the wrong variant fails its tests,
1000 distinct code problems, and a sample run in the real sandbox."""

from __future__ import annotations

import ast
import random
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from synthmill.pipeline.stage import StageContext
from synthmill.problems import FAMILIES
from synthmill.problems.base import Problem
from synthmill.problems.code_templates import TEMPLATES
from synthmill.problems.source import Problems

SEEDS = 500
Oracle = Callable[..., Any]


def _digits(n: int, base: int) -> list[int]:
    out = []
    while n:
        out.append(n % base)
        n //= base
    return out


def _runs(s: str, c: str) -> int:
    return max((len(m) for m in re.findall(f"{re.escape(c)}+", s)), default=0)


def _depth(s: str, o: str, c: str) -> int:
    level, deepest = 0, 0
    for ch in s:
        level += (ch == o) - (ch == c)
        deepest = max(deepest, level)
        if level < 0:
            return -1
    return deepest if level == 0 else -1


OPS: dict[str, Callable[[list[int]], int]] = {"sum": sum, "max": max, "min": min}


def _chunks(xs: list[int], k: int, op: str) -> list[int]:
    return [OPS[op](xs[i * k : (i + 1) * k]) for i in range(-(-len(xs) // k))]


def _merge(a: dict[str, int], b: dict[str, int], t: int) -> dict[str, int]:
    total = Counter(a)
    total.update(b)
    return {k: total[k] for k in list(a) + [k for k in b if k not in a] if total[k] >= t}


ORACLES: dict[str, Callable[[dict[str, Any]], Oracle]] = {
    "replace_char": lambda p: lambda s: "".join(p["b"] if ch == p["a"] else ch for ch in s),
    "caesar_shift": lambda p: (
        lambda s: s.translate(
            str.maketrans(
                "abcdefghijklmnopqrstuvwxyz",
                (("abcdefghijklmnopqrstuvwxyz" * 2)[p["k"] : p["k"] + 26]),
            )
        )
    ),
    "longest_run": lambda p: lambda s: _runs(s, p["c"]),
    "every_kth": lambda p: lambda s: "".join(s[i] for i in range(p["start"], len(s), p["k"])),
    "pad_left": lambda p: lambda s: p["c"] * max(0, p["w"] - len(s)) + s,
    "keep_multiples": lambda p: (
        lambda xs: list(filter(lambda x: x > p["t"] and not x % p["k"], xs))
    ),
    "chunk_totals": lambda p: lambda xs: _chunks(xs, p["k"], p["op"]),
    "window_totals": lambda p: (
        lambda xs: [OPS[p["op"]](xs[i - p["k"] : i]) for i in range(p["k"], len(xs) + 1)]
    ),
    "clamp_all": lambda p: (
        lambda xs: [p["lo"] if x < p["lo"] else p["hi"] if x > p["hi"] else x for x in xs]
    ),
    "rotate_left": lambda p: lambda xs: [xs[(i + p["k"]) % len(xs)] for i in range(len(xs))],
    "word_counts": lambda p: (
        lambda s: {
            w: c
            for w, c in Counter(w.lower() for w in s.split(p["sep"]) if w).items()
            if c >= p["k"]
        }
    ),
    "group_by_remainder": lambda p: (
        lambda xs: {
            r: sorted(x for x in xs if x % p["m"] == r)
            for r in dict.fromkeys(x % p["m"] for x in xs)
        }
    ),
    "merge_totals": lambda p: lambda a, b: _merge(a, b, p["t"]),
    "top_keys": lambda p: lambda d: [k for _, k in sorted((-v, k) for k, v in d.items())][: p["k"]],
    "first_letter_counts": lambda p: (
        lambda words: dict(Counter(w[0] for w in words if len(w) >= p["n"]))
    ),
    "digit_sum_in_base": lambda p: lambda n: sum(_digits(n, p["b"])),
    "count_divisible": lambda p: (
        lambda n: (
            n // p["a"]
            + n // p["b"]
            - n // (p["a"] * p["b"] // __import__("math").gcd(p["a"], p["b"]))
        )
    ),
    "nth_term": lambda p: (
        lambda n: p["s"] * p["r"] ** (n - 1) + p["d"] * (p["r"] ** (n - 1) - 1) // (p["r"] - 1)
    ),
    "is_power_of": lambda p: lambda n: n in {p["b"] ** e for e in range(64)},
    "digit_power_sum": lambda p: lambda n: sum(d ** p["k"] for d in _digits(n, 10)),
    "sum_pairs": lambda p: (
        lambda s: sum(
            int(v) for k, v in (x.split(p["kv"]) for x in s.split(p["sep"]) if x) if k[:1] == p["p"]
        )
    ),
    "csv_column": lambda p: (
        lambda s: [
            int(f[p["c"]])
            for f in (line.split(p["d"]) for line in s.split("\n") if line)
            if len(f) > p["c"]
        ]
    ),
    "minutes_until": lambda p: (
        lambda s: next(
            m
            for m in range(1440)
            if (int(s[:2]) * 60 + int(s[3:]) + m) % 1440 == p["h"] * 60 + p["m"]
        )
    ),
    "sum_numbers_over": lambda p: (
        lambda s: sum(v for v in (int(x) for x in re.findall(r"-?[0-9]+", s)) if v > p["t"])
    ),
    "bracket_depth": lambda p: lambda s: _depth(s, p["o"], p["c"]),
}


def _digital_root(n: int) -> int:
    return 0 if n == 0 else 1 + (n - 1) % 9


def _rle(s: str) -> str:
    return "".join(f"{m.group(0)[0]}{len(m.group(0))}" for m in re.finditer(r"(.)\1*", s))


def _merge_intervals(intervals: list[list[int]]) -> list[list[int]]:
    points = sorted(map(tuple, intervals))
    out: list[list[int]] = []
    for a, b in points:
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


FUNCTION_ORACLES: dict[str, Oracle] = {
    "sum_of_multiples": lambda n, k: k * (((n - 1) // k) * ((n - 1) // k + 1)) // 2,
    "count_vowels": lambda s: len(re.findall("[aeiou]", s, re.IGNORECASE)),
    "reverse_words": lambda s: " ".join(s.split()[::-1]),
    "running_max": lambda xs: [max(xs[: i + 1]) for i in range(len(xs))],
    "is_palindrome": lambda s: (t := re.sub(r"[^a-z0-9]", "", s.lower())) == t[::-1],
    "second_largest": lambda xs: sorted(set(xs))[-2] if len(set(xs)) > 1 else None,
    "rotate_right": lambda xs, k: [xs[(i - k) % len(xs)] for i in range(len(xs))],
    "digital_root": _digital_root,
    "run_length": _rle,
    "merge_intervals": _merge_intervals,
}


def _cases(tests: str) -> list[tuple[list[Any], Any]]:
    """(args, expected) of every `assert candidate(...) == expected` line."""
    out = []
    for node in ast.walk(ast.parse(tests)):
        if isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare):
            call = node.test.left
            assert isinstance(call, ast.Call)
            args = [ast.literal_eval(a) for a in call.args]
            out.append((args, ast.literal_eval(node.test.comparators[0])))
    return out


def _passes(source: str, tests: str, entry: str) -> bool:
    namespace: dict[str, Any] = {}
    try:
        exec(source + "\n" + tests + f"\ncheck({entry})", namespace)
    except Exception:
        return False
    return True


def _template(p: Problem) -> Any:
    return next(t for t in TEMPLATES[p.family] if t.name == p.params["template"])


CODE = list(TEMPLATES)


@pytest.mark.parametrize("family", CODE)
def test_expected_values_re_derived_independently(family: str) -> None:
    for seed in range(SEEDS):
        p = FAMILIES[family](random.Random(seed), 1 + seed % 5)
        spec = {k: v for k, v in p.params.items() if k != "template"}
        for value in spec.values():  # the spec is in the text, so the text decides the answer
            assert str(value) in p.problem or repr(value) in p.problem, (value, p.problem)
        oracle = ORACLES[p.params["template"]](spec)
        for args, expected in _cases(p.tests):
            assert oracle(*args) == expected, (p.entry_point, spec, args, expected)


@pytest.mark.parametrize("family", CODE)
def test_the_reference_passes_and_the_wrong_variant_fails(family: str) -> None:
    for seed in range(0, SEEDS, 5):
        p = FAMILIES[family](random.Random(seed), 1 + seed % 5)
        assert _passes(p.answer, p.tests, p.entry_point), p.problem
        spec = {k: v for k, v in p.params.items() if k != "template"}
        wrong = _template(p).source(spec, wrong=True)
        assert not _passes(wrong, p.tests, p.entry_point), (wrong, p.tests)


def test_code_function_expected_values_re_derived() -> None:
    for seed in range(SEEDS):
        p = FAMILIES["code.function"](random.Random(seed), 1 + seed % 5)
        for args, expected in _cases(p.tests):
            assert FUNCTION_ORACLES[p.entry_point](*args) == expected, (p.entry_point, args)


def test_a_thousand_distinct_code_problems_with_tests() -> None:
    source = Problems(n=1000, families=["code"], difficulties=[1, 2, 3, 4, 5])
    records = list(source.rows(StageContext(seed=11, stage="problems")))
    rows = [r.data for r in records]
    assert len({r["problem"] for r in rows}) == 1000
    assert all(r["tests"].count("assert candidate(") >= 3 and r["entry_point"] for r in rows)
    assert len({r["family"] for r in rows}) == 6
    specs = [r.meta.params.get("spec") for r in records if r.data["family"] != "code.function"]
    assert all(spec and spec["template"] for spec in specs)  # provenance: the drawn spec


@pytest.mark.sandbox
def test_a_sample_in_the_real_sandbox() -> None:
    from synthmill.verify.code_check import run_solution
    from synthmill.verify.sandbox import bwrap_works

    if not bwrap_works():
        pytest.skip("bubblewrap is not available")
    for family in CODE:
        p = FAMILIES[family](random.Random(5), 3)
        spec = {k: v for k, v in p.params.items() if k != "template"}
        wrong = _template(p).source(spec, wrong=True)
        assert run_solution(p.answer, p.tests, p.entry_point).ok, (family, p.answer)
        assert not run_solution(wrong, p.tests, p.entry_point).ok, (family, wrong)
