"""How many distinct problems a family can make at a difficulty.

A generator's random draws form a tree; walking it (every randint value, every choice)
and collecting the problem texts gives the exact count when the tree is small. When it
is larger than a budget the count is estimated from random root-to-leaf walks (Knuth's
estimator: the mean product of branching factors), which counts parameter draws and so
is an upper bound on distinct texts. Families whose tests are drawn at random too
(code) declare their count instead.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from synthmill.problems.base import Family

EXACT_BUDGET = 4000  # leaves walked before switching to an estimate
PROBES = 300
MAX_DRAWS = 64  # a path deeper than this is a rejection loop; it is cut


@dataclass(frozen=True)
class Capacity:
    """The number of distinct problems, and whether it is exact or an estimate."""

    count: int
    exact: bool

    def __str__(self) -> str:
        return str(self.count) if self.exact else f"~{_round(self.count)}"


def _round(n: int) -> str:
    if n < 10_000:
        return str(n)
    return f"{n:.1e}".replace("e+0", "e").replace("e+", "e")


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


def _walk(make: Family, difficulty: int, budget: int) -> set[str] | None:
    """Every distinct problem text, or None when the tree has more than `budget` leaves."""
    texts: set[str] = set()
    path: list[int] | None = []
    for _ in range(budget):
        assert path is not None
        rng = _Walker(path)
        with contextlib.suppress(_Cut):  # a rejection loop cut short: no leaf
            texts.add(make(rng, difficulty).problem)
        path = _next_path(rng.path, rng.arities)
        if path is None:
            return texts
    return None


def _estimate(make: Family, difficulty: int, probes: int) -> int:
    """Knuth's estimate of the number of leaves, lowered by a birthday estimate of distinct
    texts when the random walks repeat texts (seeded, so it is the same every time)."""
    chooser = random.Random(f"capacity:{difficulty}")
    total, repeats = 0, 0
    seen: set[str] = set()
    for _ in range(probes):
        rng = _Walker([], pick=chooser.randrange)
        try:
            text = make(rng, difficulty).problem
        except _Cut:
            continue  # a rejection loop that did not end: no leaf
        total += math.prod(rng.arities)
        repeats += text in seen
        seen.add(text)
    leaves = max(1, total // probes)
    if repeats == 0:
        return leaves
    return max(len(seen), min(leaves, len(seen) ** 2 // (2 * repeats)))


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
    texts = _walk(FAMILIES[family], difficulty, budget)
    if texts is not None:
        return Capacity(len(texts), True)
    return Capacity(_estimate(FAMILIES[family], difficulty, PROBES), False)


def capacity_table(
    families: Iterable[str], levels: Iterable[int], budget: int = EXACT_BUDGET
) -> dict[str, dict[int, str]]:
    """family -> difficulty -> count as text ("6", "~3.2e5"), for the CLI and README."""
    levels = list(levels)
    return {f: {d: str(capacity(f, d, budget)) for d in levels} for f in families}
