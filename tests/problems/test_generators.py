"""Every family: reproducible, answers in canonical form, answers actually correct."""

from __future__ import annotations

import random
import re
from fractions import Fraction

import pytest

from synthmill.problems import FAMILIES, MATH_FAMILIES
from synthmill.problems.base import Problem, fmt, fmt_decimal, fmt_roots, fmt_tuple
from synthmill.verify.numbers import parse_number

CANONICAL = re.compile(r"^-?\d+(/\d+|\.\d+)?$|^\(-?\d+, -?\d+\)$|^-?\d+(, -?\d+)+$")


@pytest.mark.parametrize("family", list(FAMILIES))
def test_seeded_and_reproducible(family: str) -> None:
    make = FAMILIES[family]
    first = [make(random.Random(s), d) for s in range(20) for d in (1, 3, 5)]
    again = [make(random.Random(s), d) for s in range(20) for d in (1, 3, 5)]
    assert first == again
    assert len({(p.problem, p.tests) for p in first}) > 10  # the seed changes the problem


@pytest.mark.parametrize("family", MATH_FAMILIES)
def test_math_answers_are_canonical(family: str) -> None:
    for seed in range(60):
        for difficulty in range(1, 6):
            p = FAMILIES[family](random.Random(seed), difficulty)
            assert p.family == family and p.difficulty == difficulty and p.kind == "math"
            assert CANONICAL.match(p.answer), (family, p.answer)


def test_formats() -> None:
    assert fmt(Fraction(6, 8)) == "3/4" and fmt(Fraction(-4, 2)) == "-2"
    assert fmt_decimal(Fraction(5, 2)) == "2.5" and fmt_decimal(Fraction(1, 3)) == "1/3"
    assert fmt_decimal(Fraction(297093, 25)) == "11883.72"  # was 297093/25 (float rounding)
    assert (
        fmt_decimal(Fraction(-1, 8)) == "-0.125"
        and fmt_decimal(Fraction(1, 1024)) == "0.0009765625"
    )
    assert fmt_roots([3, -2, 3]) == "-2, 3, 3" and fmt_tuple([2, -1]) == "(2, -1)"


def _eval(expr: str) -> Fraction:
    """Evaluate a generated arithmetic question independently of the generator."""
    expr = re.sub(r"(\d+)/(\d+)", r"Fraction(\1, \2)", expr)
    return Fraction(eval(expr, {"Fraction": Fraction, "__builtins__": {}}))


@pytest.mark.parametrize(
    "family", ["arithmetic.integer", "arithmetic.order_of_operations", "arithmetic.fraction"]
)
def test_arithmetic_answers_are_right(family: str) -> None:
    for seed in range(100):
        p = FAMILIES[family](random.Random(seed), 1 + seed % 5)
        expr = re.search(r"(?:Compute|Evaluate) (.+?)\.(?: |$)", p.problem)
        assert expr is not None
        assert _eval(expr.group(1)) == parse_number(p.answer), p.problem


def test_linear_and_quadratic_answers_solve_their_equations() -> None:
    for seed in range(100):
        p = FAMILIES["algebra.quadratic"](random.Random(seed), 1 + seed % 5)
        poly = re.search(r"roots of (.+) = 0", p.problem)
        assert poly is not None
        py = re.sub(r"(\d)x", r"\1*x", poly.group(1)).replace("^", "**")
        for root in p.answer.split(", "):
            assert eval(py, {"x": Fraction(root)}) == 0, (p.problem, p.answer)
        q = FAMILIES["algebra.linear"](random.Random(seed), 1 + seed % 5)
        left, right = re.search(r"x: (.+) = (.+)\.$", q.problem).groups()  # type: ignore[union-attr]
        x = parse_number(q.answer)
        sides = [eval(re.sub(r"(\d)x", r"\1*x", side), {"x": x}) for side in (left, right)]
        assert sides[0] == sides[1], (q.problem, q.answer)


def test_system_answer_satisfies_both_equations() -> None:
    for seed in range(100):
        p = FAMILIES["algebra.system"](random.Random(seed), 1 + seed % 5)
        x, y = (int(v) for v in p.answer.strip("()").split(", "))
        for eq in re.findall(r"(-?\d*x [+-] \d*y = -?\d+)", p.problem):
            lhs, rhs = eq.split(" = ")
            py = re.sub(r"(\d)([xy])", r"\1*\2", lhs)
            assert eval(py, {"x": x, "y": y}) == int(rhs), (p.problem, p.answer)


def test_code_family_reference_passes_its_hidden_tests() -> None:
    for seed in range(40):
        p = FAMILIES["code.function"](random.Random(seed), 1 + seed % 5)
        assert p.kind == "code" and p.entry_point in p.problem and "def check" in p.tests
        namespace: dict[str, object] = {}
        exec(p.answer + "\n" + p.tests + f"\ncheck({p.entry_point})", namespace)


def test_difficulty_changes_the_problems() -> None:
    easy = [FAMILIES["arithmetic.integer"](random.Random(s), 1) for s in range(50)]
    hard = [FAMILIES["arithmetic.integer"](random.Random(s), 5) for s in range(50)]
    assert _size(hard) > 10 * _size(easy)


def _size(problems: list[Problem]) -> int:
    return sum(abs(int(p.answer)) for p in problems)
