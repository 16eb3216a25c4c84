"""Every math family's answer, re-derived from the problem text alone on 500 seeds.

Each checker reads the numbers out of the question and computes the answer its own way
(brute force, sympy, or a formula the generator does not use), so a generator bug
(a sequence with no rule, a wrong conversion factor) fails here.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable
from fractions import Fraction

import pytest
import sympy  # type: ignore[import-untyped]

from synthmill.problems import FAMILIES, MATH_FAMILIES
from synthmill.problems.base import Problem

SEEDS = 500
NUM = r"-?\d+(?:\.\d+)?"


def _nums(pattern: str, text: str) -> list[Fraction]:
    m = re.search(pattern, text)
    assert m, (pattern, text)
    return [Fraction(g) for g in m.groups()]


def _value(answer: str) -> Fraction:
    return Fraction(answer)


def expression(p: Problem) -> None:
    expr = re.search(r"(?:Compute|Evaluate) (.+?)\.(?: |$)", p.problem)
    assert expr is not None
    value = sympy.sympify(expr.group(1), rational=True)
    assert Fraction(str(value)) == _value(p.answer), p


def percent(p: Problem) -> None:
    q, answer = p.problem, _value(p.answer)
    if q.startswith("What is"):
        pct, base = _nums(rf"What is ({NUM})% of ({NUM})\?", q)
        assert answer * 100 == pct * base
    elif q.startswith("What percent"):
        base, part = _nums(rf"What percent of ({NUM}) is ({NUM})\?", q)
        assert answer * base == part * 100
    else:
        old, new = _nums(rf"from ({NUM}) to ({NUM})\.", q)
        assert ("increase" in q) == (new > old)
        assert answer * old == abs(new - old) * 100


def ratio(p: Problem) -> None:
    total, a, b = _nums(r"share (\d+) coins in the ratio (\d+):(\d+)", p.problem)
    assert _value(p.answer) * (a + b) == total * b


def _poly(text: str) -> sympy.Expr:
    return sympy.sympify(re.sub(r"(\d)([xy])", r"\1*\2", text).replace("^", "**"))


def linear(p: Problem) -> None:
    left, right = re.search(r"x: (.+) = (.+)\.$", p.problem).groups()  # type: ignore[union-attr]
    a, b = sympy.Poly(_poly(left) - _poly(right), sympy.Symbol("x")).all_coeffs()
    assert a != 0 and Fraction(str(-b / a)) == _value(p.answer), p


def system(p: Problem) -> None:
    eqs = re.findall(r"([-\dxy +]+) = (-?\d+)", p.problem)
    assert len(eqs) == 2
    x, y = sympy.symbols("x y")
    (a, b, e), (c, d, f) = ((*(_poly(lhs).coeff(v) for v in (x, y)), int(rhs)) for lhs, rhs in eqs)
    det = a * d - b * c
    assert det != 0, p  # a unique solution (Cramer's rule)
    assert p.answer == f"({Fraction(e * d - b * f, det)}, {Fraction(a * f - e * c, det)})", p


def quadratic(p: Problem) -> None:
    poly = re.search(r"roots of (.+) = 0", p.problem).group(1)  # type: ignore[union-attr]
    roots = sympy.roots(sympy.Poly(_poly(poly), sympy.Symbol("x")))
    assert sorted(Fraction(str(r)) for r in roots) == [_value(v) for v in p.answer.split(", ")]


def rate(p: Problem) -> None:
    if "pump" in p.problem:
        a, b = _nums(r"in (\d+) hours and another fills it in (\d+) hours", p.problem)
        assert _value(p.answer) * (1 / a + 1 / b) == 1
    else:
        speed, hours = _nums(r"constant (\d+) km per hour for (\d+) hours", p.problem)
        assert _value(p.answer) == speed * hours


def mixture(p: Problem) -> None:
    v1, c1, v2, c2 = _nums(r"mix (\d+) mL of a (\d+)% .* with (\d+) mL of a (\d+)%", p.problem)
    salt = v1 * c1 / 100 + v2 * c2 / 100
    assert _value(p.answer) / 100 * (v1 + v2) == salt


def age(p: Problem) -> None:
    if "times as old. How old" in p.problem:
        child, k = _nums(r"is (\d+) years old\. \w+ is (\d+) times", p.problem)
        assert _value(p.answer) == child * k
        return
    diff, later, k = _nums(
        r"is (\d+) years older .* In (\d+) years \w+ will be (\d+) times", p.problem
    )
    ages = [a for a in range(0, 200) if a + diff + later == k * (a + later)]
    assert ages == [_value(p.answer)], p


def money(p: Problem) -> None:
    items = re.findall(r"(\d+) \w+ at \$(\d+\.\d\d) each", p.problem)
    cost = sum(int(q) * Fraction(price) for q, price in items)
    paid = re.search(r"pays with \$(\d+)", p.problem)
    assert _value(p.answer) == (int(paid.group(1)) - cost if paid else cost), p


def _listed(p: Problem) -> list[int]:
    nums = [int(n) for n in re.findall(r"\d+", p.problem.split("of ", 1)[1])]
    assert len(set(nums)) == len(nums), p  # never gcd(18, 18)
    return nums


def gcd(p: Problem) -> None:
    nums = _listed(p)
    assert int(p.answer) == max(d for d in range(1, min(nums) + 1) if all(n % d == 0 for n in nums))


def lcm(p: Problem) -> None:
    nums = _listed(p)
    step = max(nums)
    assert int(p.answer) == next(
        m for m in itertools.count(step, step) if all(m % n == 0 for n in nums)
    )


def modular(p: Problem) -> None:
    q = p.problem
    if "remainder when" in q:
        big, mod = (int(v) for v in _nums(r"when (\d+) is divided by (\d+)", q))
        assert int(p.answer) == big - mod * (big // mod)
    elif "inverse" in q:
        a, m = (int(v) for v in _nums(r"inverse of (\d+) modulo (\d+)", q))
        assert [x for x in range(m) if a * x % m == 1] == [int(p.answer)]
    else:
        a, e, m = (int(v) for v in _nums(r"Compute (\d+)\^(\d+) mod (\d+)", q))
        value = 1
        for _ in range(e):
            value = value * a % m
        assert int(p.answer) == value


def _prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, int(n**0.5) + 1))


def prime(p: Problem) -> None:
    (n,) = (int(v) for v in _nums(r"(?:equal to|factor of) (\d+)\?", p.problem))
    if "How many" in p.problem:
        assert int(p.answer) == sum(_prime(k) for k in range(n + 1))
    else:
        assert int(p.answer) == max(d for d in range(2, n + 1) if n % d == 0 and _prime(d))


def _rules(terms: list[int]) -> list[Callable[[int], Fraction]]:
    """Every simple rule (arithmetic, geometric, quadratic) that fits the shown terms."""
    t = [Fraction(v) for v in terms]
    rules = []
    if len({b - a for a, b in itertools.pairwise(t)}) == 1:
        rules.append(lambda i: t[0] + (t[1] - t[0]) * i)
    if 0 not in t and len({b / a for a, b in itertools.pairwise(t)}) == 1:
        rules.append(lambda i: t[0] * (t[1] / t[0]) ** i)
    second = {(c - b) - (b - a) for a, b, c in zip(t, t[1:], t[2:], strict=False)}
    if len(second) == 1 and second != {0}:
        a2 = second.pop() / 2
        rules.append(lambda i: a2 * i * i + (t[1] - t[0] - a2) * i + t[0])
    return rules


def sequence(p: Problem) -> None:
    listing = re.search(r"The sequence (.+), \.\.\.", p.problem).group(1)  # type: ignore[union-attr]
    terms = [int(v) for v in listing.split(", ")]
    which = re.search(r"term number (\d+)", p.problem)
    index = int(which.group(1)) - 1 if which else len(terms)
    rules = _rules(terms)
    assert len(rules) == 1, (p.problem, "no rule or several rules")
    assert rules[0](index) == _value(p.answer), p


UNIT = {
    "millimetres": Fraction(1, 1000), "centimetres": Fraction(1, 100), "metres": Fraction(1),
    "kilometres": Fraction(1000), "grams": Fraction(1), "kilograms": Fraction(1000),
    "tonnes": Fraction(10**6), "seconds": Fraction(1), "minutes": Fraction(60),
    "hours": Fraction(3600), "days": Fraction(86400), "millilitres": Fraction(1, 1000),
    "litres": Fraction(1),
}  # fmt: skip


def units(p: Problem) -> None:
    amount, src, dst = re.search(rf"Convert ({NUM}) (\w+) to (\w+)\.", p.problem).groups()  # type: ignore[union-attr]
    assert _value(p.answer) == Fraction(amount) * UNIT[src] / UNIT[dst]


def probability(p: Problem) -> None:
    q = p.problem
    if "urn" in q:
        red, blue = (int(v) for v in _nums(r"holds (\d+) red and (\d+) blue", q))
        balls = ["r"] * red + ["b"] * blue
        pairs = list(itertools.permutations(range(len(balls)), 2))
        hits = sum(balls[i] == balls[j] == "r" for i, j in pairs)
        assert _value(p.answer) == Fraction(hits, len(pairs))
        return
    dice = 1 if "a fair six-sided die" in q else int(re.search(r"roll (\d+) fair", q).group(1))  # type: ignore[union-attr]
    (target,) = (int(v) for v in _nums(r"total is (\d+)\?", q))
    rolls = list(itertools.product(range(1, 7), repeat=dice))
    assert _value(p.answer) == Fraction(sum(sum(r) == target for r in rolls), len(rolls))


CHECKERS: dict[str, Callable[[Problem], None]] = {
    "arithmetic.integer": expression,
    "arithmetic.fraction": expression,
    "arithmetic.order_of_operations": expression,
    "arithmetic.percent": percent,
    "arithmetic.ratio": ratio,
    "algebra.linear": linear,
    "algebra.system": system,
    "algebra.quadratic": quadratic,
    "word.rate": rate,
    "word.mixture": mixture,
    "word.age": age,
    "word.money": money,
    "number_theory.gcd": gcd,
    "number_theory.lcm": lcm,
    "number_theory.modular": modular,
    "number_theory.prime": prime,
    "sequence": sequence,
    "units": units,
    "probability": probability,
}


def test_every_math_family_has_a_checker() -> None:
    assert set(CHECKERS) == set(MATH_FAMILIES)


SLOW = {"algebra.linear", "algebra.system", "algebra.quadratic"}  # sympy on 500 problems


@pytest.mark.parametrize(
    "family",
    [pytest.param(f, marks=[pytest.mark.slow] if f in SLOW else []) for f in MATH_FAMILIES],
)
def test_answers_re_derived_from_the_text(family: str) -> None:
    for seed in range(SEEDS):
        problem = FAMILIES[family](random.Random(seed), 1 + seed % 5)
        CHECKERS[family](problem)


def test_the_geometric_sequence_keeps_its_ratio() -> None:
    p = FAMILIES["sequence"](random.Random(7), 2)
    assert p.problem.startswith("The sequence 5, -10, 20, -40, 80,") and p.answer == "-160"
