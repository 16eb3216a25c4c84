"""What a generated problem is, and how answers are written in canonical form.

A family is a plain function `(rng, difficulty) -> Problem`; difficulty runs from 1
(easiest) to 5. Canonical answers: integers "42", reduced fractions "-3/4", exact
decimals "2.5", unordered lists (roots) "-2, 3" sorted ascending, ordered tuples "(2, 3)".
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

MIN_DIFFICULTY, MAX_DIFFICULTY = 1, 5
ProblemKind = Literal["math", "code"]


@dataclass(frozen=True)
class Problem:
    """A question with a known answer. Code problems also carry hidden tests."""

    problem: str
    answer: str
    family: str
    difficulty: int
    kind: ProblemKind = "math"
    entry_point: str = ""
    tests: str = ""
    # the drawn spec of a code problem (not a column; tests re-derive answers from it)
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_row(self) -> dict[str, object]:
        return {
            "problem": self.problem,
            "answer": self.answer,
            "family": self.family,
            "difficulty": self.difficulty,
            "kind": self.kind,
            "entry_point": self.entry_point,
            "tests": self.tests,
        }


Family = Callable[[random.Random, int], Problem]


def fmt(value: Fraction | int) -> str:
    """The canonical text of an exact number: an integer, or a reduced fraction a/b."""
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator}"


def fmt_decimal(value: Fraction) -> str:
    """A terminating fraction written exactly as a decimal ("2.5"); others fall back to a/b."""
    value = Fraction(value)
    places = 0
    while (value * 10**places).denominator != 1:
        places += 1
        if places > 40:  # 1/3, 1/7...: no terminating decimal
            return fmt(value)
    if places == 0:
        return str(value.numerator)
    digits = str(abs(value * 10**places).numerator).rjust(places + 1, "0")
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def fmt_roots(values: Iterable[Fraction | int]) -> str:
    """An unordered collection of numbers, written sorted and comma-separated."""
    return ", ".join(fmt(v) for v in sorted(Fraction(v) for v in values))


def fmt_tuple(values: Iterable[Fraction | int]) -> str:
    """An ordered tuple such as the (x, y) solution of a system."""
    return "(" + ", ".join(fmt(v) for v in values) + ")"


def scale(difficulty: int, *sizes: int) -> int:
    """Pick the size for this difficulty from one value per level (1..5)."""
    level = min(max(difficulty, MIN_DIFFICULTY), MAX_DIFFICULTY)
    return sizes[min(level, len(sizes)) - 1]


def nonzero(rng: random.Random, low: int, high: int) -> int:
    """A random integer in [low, high] that is not zero (one draw, no rejection loop)."""
    return rng.choice([v for v in range(low, high + 1) if v != 0])


def coin(rng: random.Random, tenths: int = 5) -> bool:
    """True with probability tenths/10, as one enumerable draw (not rng.random())."""
    return rng.randrange(10) < tenths
