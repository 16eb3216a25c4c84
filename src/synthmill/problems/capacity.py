"""How many distinct problems a family can make at a difficulty.

A generator's random draws form a tree; walking it (every randint value, every choice)
and collecting the problem texts gives the exact count when the tree is small. When it
has more leaves than a budget, the texts found by the walk and by random draws are a
lower bound (">=N"): at least that many exist. Code families count their specs.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from synthmill.problems.base import Family

EXACT_BUDGET = 4000  # leaves walked before switching to an estimate
SAMPLES = 2000  # random draws added to the walk's texts when the tree is too large
MAX_DRAWS = 64  # a path deeper than this is a rejection loop; it is cut


@dataclass(frozen=True)
class Capacity:
    """The number of distinct problems: exact, or a lower bound (the texts found)."""

    count: int
    exact: bool

    def __str__(self) -> str:
        return str(self.count) if self.exact else f">={self.count}"


class _Cut(Exception):
    """A path that drew more than MAX_DRAWS times (a rejection loop)."""


class _Walker(random.Random):
    """A stand-in for random.Random whose draws follow a given path of branch indices."""

    def __init__(self, path: list[int], pick: Callable[[int], int] | None = None) -> None:
        super().__init__(0)
        self.path, self._pick_new = path, pick
        self.arities: list[int] = []

    def _index(self, n: int) -> int:
        if n <= 0:
            raise ValueError("empty choice")
        pos = len(self.arities)
        if pos >= MAX_DRAWS:
            raise _Cut
        if pos == len(self.path):
            self.path.append(self._pick_new(n) if self._pick_new else 0)
        self.arities.append(n)
        return self.path[pos]

    # the signatures take Any: this mirrors random.Random's draws, not its typing
    def randrange(self, start: Any, stop: Any = None, step: Any = 1) -> Any:
        values = range(start) if stop is None else range(start, stop, step)
        return values[self._index(len(values))]

    def randint(self, a: int, b: int) -> int:
        return a + self._index(b - a + 1)

    def choice(self, seq: Any) -> Any:
        return seq[self._index(len(seq))]

    def choices(
        self, population: Any, weights: Any = None, *, cum_weights: Any = None, k: int = 1
    ) -> Any:
        return [population[self._index(len(population))] for _ in range(k)]

    def sample(self, population: Any, k: int, *, counts: Any = None) -> Any:
        pool = list(population)
        return [pool.pop(self._index(len(pool))) for _ in range(k)]

    def shuffle(self, x: Any) -> None:
        x[:] = self.sample(list(x), len(x))

    def random(self) -> float:
        raise TypeError("rng.random() cannot be enumerated; use randrange/coin")


def _next_path(path: list[int], arities: list[int]) -> list[int] | None:
    """The next path in depth-first order, or None when the tree is done."""
    for j in range(len(arities) - 1, -1, -1):
        if path[j] + 1 < arities[j]:
            return [*path[:j], path[j] + 1]
    return None


def _walk(make: Family, difficulty: int, budget: int) -> tuple[set[str], bool]:
    """The distinct problem texts of the first `budget` leaves, and whether that was all."""
    texts: set[str] = set()
    path: list[int] | None = []
    for _ in range(budget):
        assert path is not None
        rng = _Walker(path)
        with contextlib.suppress(_Cut):  # a rejection loop cut short: no leaf
            texts.add(make(rng, difficulty).problem)
        path = _next_path(rng.path, rng.arities)
        if path is None:
            return texts, True
    return texts, False


def _sampled(make: Family, difficulty: int, draws: int) -> set[str]:
    """Texts of `draws` problems drawn as the source draws them (seeded, repeatable)."""
    return {make(random.Random(f"capacity:{seed}"), difficulty).problem for seed in range(draws)}


def _declared(family: str, difficulty: int) -> int | None:
    """Code families draw random tests, so their count is their number of specs."""
    from synthmill.problems.code import TASKS
    from synthmill.problems.code_templates import TEMPLATES

    if family in TEMPLATES:
        return sum(t.variants() for t in TEMPLATES[family])
    if family == "code.function":
        return sum(1 for t in TASKS if t.level <= difficulty)
    return None


@lru_cache(maxsize=512)
def capacity(family: str, difficulty: int, budget: int = EXACT_BUDGET) -> Capacity:
    """How many distinct problem texts `family` makes at `difficulty` (exact when its
    tree has at most `budget` leaves)."""
    from synthmill.problems import FAMILIES

    declared = _declared(family, difficulty)
    if declared is not None:
        return Capacity(declared, True)
    texts, complete = _walk(FAMILIES[family], difficulty, budget)
    if complete:
        return Capacity(len(texts), True)
    return Capacity(len(texts | _sampled(FAMILIES[family], difficulty, SAMPLES)), False)


def capacity_table(
    families: Iterable[str], levels: Iterable[int], budget: int = EXACT_BUDGET
) -> dict[str, dict[int, str]]:
    """family -> difficulty -> count as text ("6", "~3.2e5"), for the CLI and README."""
    levels = list(levels)
    return {f: {d: str(capacity(f, d, budget)) for d in levels} for f in families}
