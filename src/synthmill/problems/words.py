"""Word problems from templates: rates, mixtures, ages and money, with exact answers."""

from __future__ import annotations

import random
from fractions import Fraction

from synthmill.problems.base import Problem, coin, fmt_decimal, scale

NAMES = ["Ava", "Ben", "Chen", "Dara", "Emil", "Farah", "Gus", "Hana", "Ivan", "Jia"]


def rate(rng: random.Random, difficulty: int) -> Problem:
    """Distance = speed * time, or two workers filling a job together."""
    name = rng.choice(NAMES)
    if difficulty <= 2 or coin(rng):
        speed = rng.randint(3, scale(difficulty, 12, 30, 60, 90, 120))
        hours = rng.randint(2, scale(difficulty, 5, 8, 10, 12, 15))
        question = (
            f"{name} travels at a constant {speed} km per hour for {hours} hours. "
            "How many kilometres does "
            f"{name} travel?"
        )
        return Problem(question, str(speed * hours), "word.rate", difficulty)
    a, b = rng.sample(range(2, scale(difficulty, 6, 8, 10, 12, 15)), 2)
    together = Fraction(a * b, a + b)
    question = (
        f"One pump fills a tank in {a} hours and another fills it in {b} hours. Working "
        "together, how many hours do they take to fill it? Give an exact fraction or number."
    )
    return Problem(question, fmt_decimal(together), "word.rate", difficulty)


def mixture(rng: random.Random, difficulty: int) -> Problem:
    """Mix two solutions of known concentration; ask the concentration of the mix."""
    v1 = rng.randint(1, scale(difficulty, 5, 10, 20, 40, 80)) * 10
    v2 = rng.randint(1, scale(difficulty, 5, 10, 20, 40, 80)) * 10
    c1 = rng.choice(range(5, 100, 5 if difficulty < 3 else 1))
    c2 = rng.choice(range(5, 100, 5 if difficulty < 3 else 1))
    pct = Fraction(v1 * c1 + v2 * c2, v1 + v2)
    question = (
        f"You mix {v1} mL of a {c1}% salt solution with {v2} mL of a {c2}% salt solution. "
        "What is the salt concentration of the mixture, in percent? Answer with the "
        "number only (exact)."
    )
    return Problem(question, fmt_decimal(pct), "word.mixture", difficulty)


def age(rng: random.Random, difficulty: int) -> Problem:
    """Ages now and in the future, phrased as a multiple; the answer is an age now."""
    child = rng.randint(2, scale(difficulty, 10, 12, 15, 18, 20))
    k = rng.randint(2, 4)
    later = rng.randint(1, scale(difficulty, 5, 10, 15, 20, 25))
    parent_later = k * (child + later)
    parent = parent_later - later
    a, b = rng.sample(NAMES, 2)
    if difficulty <= 2:
        question = f"{a} is {child} years old. {b} is {k} times as old. How old is {b}?"
        return Problem(question, str(k * child), "word.age", difficulty)
    question = (
        f"{b} is {parent - child} years older than {a}. In {later} years {b} will be {k} "
        f"times as old as {a}. How old is {a} now?"
    )
    return Problem(question, str(child), "word.age", difficulty)


def money(rng: random.Random, difficulty: int) -> Problem:
    """Buy items at unit prices (in cents, so exact), pay, and get change."""
    name = rng.choice(NAMES)
    count = scale(difficulty, 1, 2, 2, 3, 4)
    items = rng.sample(["pens", "apples", "notebooks", "stamps", "rolls", "cards"], count)
    cost, lines = 0, []
    for item in items:
        qty = rng.randint(2, scale(difficulty, 5, 8, 10, 12, 20))
        cents = rng.randint(1, scale(difficulty, 4, 10, 20, 40, 99)) * (25 if difficulty < 3 else 1)
        cost += qty * cents
        lines.append(f"{qty} {item} at ${cents / 100:.2f} each")
    paid = (cost // 1000 + 1) * 1000 if difficulty >= 2 else 0
    bought = ", ".join(lines)
    if not paid:
        question = f"{name} buys {bought}. How many dollars does {name} spend?"
        return Problem(question, fmt_decimal(Fraction(cost, 100)), "word.money", difficulty)
    question = (
        f"{name} buys {bought}, and pays with ${paid // 100}. How many dollars of change "
        f"does {name} get?"
    )
    return Problem(question, fmt_decimal(Fraction(paid - cost, 100)), "word.money", difficulty)
