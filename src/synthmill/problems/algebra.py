"""Algebra families: linear equations, 2x2 linear systems, quadratics with integer roots."""

from __future__ import annotations

import random
from fractions import Fraction

from synthmill.problems.base import Problem, fmt, fmt_roots, fmt_tuple, nonzero, scale


def _term(coef: int, var: str, first: bool = False) -> str:
    """`coef*var` written as people write it: 3x, -x, + 2y, - y."""
    sign = "-" if coef < 0 else ("" if first else "+")
    mag = abs(coef)
    body = f"{'' if mag == 1 and var else mag}{var}"
    return f"{sign}{body}" if first else f" {sign} {body}"


def _const(value: int) -> str:
    return f" {'-' if value < 0 else '+'} {abs(value)}" if value else ""


def linear(rng: random.Random, difficulty: int) -> Problem:
    """Solve a*x + b = c*x + d for x; from difficulty 3 on the root may be a fraction."""
    bound = scale(difficulty, 10, 12, 15, 20, 30)
    a = nonzero(rng, -bound, bound)
    c = rng.choice([v for v in range(-bound, bound + 1) if v != a]) if difficulty >= 2 else 0
    if difficulty >= 3:
        x = Fraction(rng.randint(-bound, bound), rng.randint(1, 4))
        b = rng.randint(-bound, bound)
        d_frac = (a - c) * x + b
        if d_frac.denominator != 1:  # keep the equation's coefficients integral
            x = Fraction(rng.randint(-bound, bound))
            d_frac = (a - c) * x + b
    else:
        x = Fraction(rng.randint(-bound, bound))
        b = rng.randint(-bound, bound)
        d_frac = (a - c) * x + b
    d = int(d_frac)
    right = f"{_term(c, 'x', True)}{_const(d)}" if c else str(d)
    question = f"Solve for x: {_term(a, 'x', True)}{_const(b)} = {right}."
    return Problem(question, fmt(x), "algebra.linear", difficulty)


def system(rng: random.Random, difficulty: int) -> Problem:
    """A 2x2 linear system with a unique integer solution; answer (x, y)."""
    bound = scale(difficulty, 5, 8, 10, 15, 20)
    x, y = rng.randint(-bound, bound), rng.randint(-bound, bound)
    while True:
        a, b, c, d = (nonzero(rng, -bound // 2 - 1, bound // 2 + 1) for _ in range(4))
        if a * d - b * c != 0:
            break
    eq1 = f"{_term(a, 'x', True)}{_term(b, 'y')} = {a * x + b * y}"
    eq2 = f"{_term(c, 'x', True)}{_term(d, 'y')} = {c * x + d * y}"
    question = f"Solve the system {eq1} and {eq2}. Give the answer as (x, y)."
    return Problem(question, fmt_tuple([x, y]), "algebra.system", difficulty)


def quadratic(rng: random.Random, difficulty: int) -> Problem:
    """k(x - r1)(x - r2) = 0 expanded; the answer is both roots, sorted."""
    bound = scale(difficulty, 5, 8, 12, 15, 20)
    r1, r2 = rng.randint(-bound, bound), rng.randint(-bound, bound)
    k = nonzero(rng, -3, 3) if difficulty >= 4 else 1
    b, c = -k * (r1 + r2), k * r1 * r2
    poly = f"{_term(k, 'x^2', True)}{_term(b, 'x') if b else ''}{_const(c)}"
    question = f"Find all real roots of {poly} = 0. List them separated by commas."
    roots = {Fraction(r1), Fraction(r2)}
    return Problem(question, fmt_roots(roots), "algebra.quadratic", difficulty)
