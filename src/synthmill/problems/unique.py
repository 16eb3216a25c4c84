"""Draw problems with unique texts: a repeat is redrawn, deterministically.

Row i first draws with the random stream ("problem", i), then ("problem", i, 1), ...
until its text is new. The same rows come out on every run and shard layout because
the source always walks rows from the first. A family x difficulty cell whose every
distinct text was seen is dropped from the draw; when nothing is left the run stops
with a one-line error instead of repeating problems.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from synthmill.errors import ConfigError
from synthmill.problems import FAMILIES
from synthmill.problems.base import Problem
from synthmill.problems.capacity import capacity

MAX_REDRAWS = 200
SATURATED = 60  # collisions in a row in one cell: treat it as used up
Cell = tuple[str, int]


@dataclass
class UniqueDraws:
    """The state of one pass over the rows: texts seen, and cells used up."""

    families: Sequence[str]
    levels: Sequence[int]
    seen: set[str] = field(default_factory=set)
    redraws: int = 0
    _cell_texts: dict[Cell, set[str]] = field(default_factory=lambda: defaultdict(set))
    _misses: dict[Cell, int] = field(default_factory=lambda: defaultdict(int))
    _used_up: set[Cell] = field(default_factory=set)

    def draw(
        self, rngs: Callable[[int], random.Random], weights: Sequence[float]
    ) -> tuple[Problem, int]:
        """A problem with a new text, and how many redraws it took."""
        for attempt in range(MAX_REDRAWS):
            rng = rngs(attempt)
            family, level = self._cell(rng, weights)
            problem = FAMILIES[family](rng, level)
            if problem.problem not in self.seen:
                self.seen.add(problem.problem)
                self._cell_texts[(family, level)].add(problem.problem)
                self._misses[(family, level)] = 0
                self.redraws += attempt
                return problem, attempt
            self._collided((family, level), problem.problem)
        raise ConfigError(
            f"no new distinct problem after {MAX_REDRAWS} draws ({len(self.seen)} made); "
            "ask for fewer rows or add families or difficulties"
        )

    def _cell(self, rng: random.Random, weights: Sequence[float]) -> Cell:
        """A family (uniform) and a level (by weight) among the cells not used up."""
        open_levels = {
            f: [(d, w) for d, w in zip(self.levels, weights, strict=True) if w > 0]
            for f in self.families
        }
        open_levels = {
            f: [(d, w) for d, w in dw if (f, d) not in self._used_up]
            for f, dw in open_levels.items()
        }
        families = [f for f in self.families if open_levels[f]]
        if not families:
            raise ConfigError(
                f"the chosen families and difficulties make only {len(self.seen)} distinct "
                "problems here; ask for fewer rows or add families or difficulties"
            )
        family = rng.choice(families)
        levels, level_weights = zip(*open_levels[family], strict=True)
        return family, rng.choices(levels, weights=level_weights)[0]

    def _collided(self, cell: Cell, text: str) -> None:
        self._cell_texts[cell].add(text)
        self._misses[cell] += 1
        room = capacity(*cell)
        full = room.exact and len(self._cell_texts[cell]) >= room.count
        if full or self._misses[cell] >= SATURATED:
            self._used_up.add(cell)


def check_room(n: int, families: Sequence[str], levels: Sequence[int]) -> None:
    """Fail before any row is made when n exceeds what the cells can make in total."""
    total = 0
    for family in families:
        for level in levels:
            total += capacity(family, level).count  # exact, or a lower bound
            if total >= n:
                return
    if not all(capacity(f, d).exact for f in families for d in levels):
        return  # the count is only a lower bound: the draws will tell
    raise ConfigError(
        f"{n} problems asked, but {', '.join(families)} at difficulties "
        f"{', '.join(map(str, levels))} make only {total} distinct ones; "
        "ask for fewer or add families or difficulties"
    )
