"""Unit conversions and simple probability, both with exact rational answers."""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

from synthmill.problems.base import Problem, coin, fmt, fmt_decimal, scale

# (unit, size in a base unit); conversions stay inside one dimension, so factors are exact.
DIMENSIONS: dict[str, list[tuple[str, Fraction]]] = {
    "length": [
        ("millimetres", Fraction(1, 1000)),
        ("centimetres", Fraction(1, 100)),
        ("metres", Fraction(1)),
        ("kilometres", Fraction(1000)),
    ],
    "mass": [("grams", Fraction(1)), ("kilograms", Fraction(1000)), ("tonnes", Fraction(10**6))],
    "time": [
        ("seconds", Fraction(1)),
        ("minutes", Fraction(60)),
        ("hours", Fraction(3600)),
        ("days", Fraction(86400)),
    ],
    "volume": [("millilitres", Fraction(1)), ("litres", Fraction(1000))],
}


def units(rng: random.Random, difficulty: int) -> Problem:
    """Convert a quantity between two units of one dimension (metric and time)."""
    dims = list(DIMENSIONS)[: scale(difficulty, 2, 3, 4)]
    (src, f_src), (dst, f_dst) = rng.sample(DIMENSIONS[rng.choice(dims)], 2)
    amount = Fraction(rng.randint(1, scale(difficulty, 20, 100, 500, 1000, 5000)))
    if difficulty >= 3:
        amount /= rng.choice([2, 4, 5, 10])
    value = amount * f_src / f_dst
    question = f"Convert {fmt_decimal(amount)} {src} to {dst}. Give the exact number."
    return Problem(question, fmt_decimal(value), "units", difficulty)


def probability(rng: random.Random, difficulty: int) -> Problem:
    """Dice sums or drawing from an urn, answered as a reduced fraction."""
    if difficulty <= 2 or coin(rng):
        dice = scale(difficulty, 1, 2, 2, 3, 3)
        outcomes = list(itertools.product(range(1, 7), repeat=dice))
        target = rng.choice([sum(o) for o in outcomes])
        hits = sum(1 for o in outcomes if sum(o) == target)
        noun = "a fair six-sided die" if dice == 1 else f"{dice} fair six-sided dice"
        question = (
            f"You roll {noun}. What is the probability that the total is {target}? "
            "Give a reduced fraction."
        )
        return Problem(question, fmt(Fraction(hits, len(outcomes))), "probability", difficulty)
    red, blue = rng.randint(1, 8), rng.randint(1, 8)
    draws = 2
    p = Fraction(red, red + blue) * Fraction(red - 1, red + blue - 1)
    question = (
        f"An urn holds {red} red and {blue} blue balls. You draw {draws} balls without "
        "replacement. What is the probability that both are red? Give a reduced fraction."
    )
    return Problem(question, fmt(p), "probability", difficulty)
