"""`problems`: n generated problems of chosen families and difficulties, seeded, unique.

A curriculum mixes difficulties by a schedule: "linear" moves the weight from the
easiest to the hardest chosen level over the n rows; a list of phases gives explicit
weights for successive shares of the rows.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from functools import partial
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from synthmill.pipeline.stage import Source, StageContext
from synthmill.problems import FAMILIES, MATH_FAMILIES
from synthmill.problems.capacity import capacity_table
from synthmill.problems.unique import UniqueDraws, check_room
from synthmill.records import Record


class Phase(BaseModel):
    """A share of the rows and the difficulty weights used while it lasts."""

    model_config = ConfigDict(extra="forbid")
    share: float = Field(gt=0, description="Fraction of the n rows this phase covers.")
    weights: dict[int, float] = Field(description="difficulty -> weight, e.g. {1: 3, 2: 1}.")


class Problems(Source):
    """Generated math and code problems with known answers; no model needed."""

    kind: ClassVar[str] = "problems"
    n: int = Field(ge=0, description="How many problems to generate.")
    families: list[str] = Field(
        default_factory=lambda: list(MATH_FAMILIES),
        min_length=1,
        description="Family names or prefixes (arithmetic, algebra.linear, code); "
        "default: every math family.",
    )
    difficulties: list[int] = Field(
        default=[1, 2, 3], min_length=1, description="Difficulty levels to draw from (1-5)."
    )
    curriculum: Literal["uniform", "linear"] | list[Phase] = Field(
        default="uniform",
        description="uniform, linear (easy to hard over the rows), or a list of phases.",
    )

    @field_validator("families")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _expand(name):
                known = ", ".join(FAMILIES)
                raise ValueError(f"unknown family {name!r}; choose from {known}")
        return value

    @field_validator("difficulties")
    @classmethod
    def _levels(cls, value: list[int]) -> list[int]:
        if any(not 1 <= d <= 5 for d in value):
            raise ValueError("difficulties must be between 1 and 5")
        return sorted(set(value))

    @model_validator(mode="after")
    def _phases(self) -> Problems:
        if isinstance(self.curriculum, list):
            for phase in self.curriculum:
                if any(d not in self.difficulties for d in phase.weights):
                    raise ValueError("curriculum weights name a level not in difficulties")
                if sum(phase.weights.values()) <= 0:
                    raise ValueError("each curriculum phase needs a positive weight")
        return self

    def family_names(self) -> list[str]:
        """The selected families, prefixes expanded, in registry order."""
        chosen = {f for name in self.families for f in _expand(name)}
        return [f for f in FAMILIES if f in chosen]

    def weights_at(self, i: int) -> list[float]:
        """Difficulty weights (one per level in `difficulties`) for row i."""
        levels = self.difficulties
        progress = i / max(self.n - 1, 1)
        if self.curriculum == "uniform":
            return [1.0] * len(levels)
        if self.curriculum == "linear":
            centre = progress * (len(levels) - 1)
            return [math.exp(-((j - centre) ** 2) / 0.5) for j in range(len(levels))]
        return _phase_weights(self.curriculum, levels, progress)

    def rows(self, ctx: StageContext) -> Iterator[Record]:
        """n problems, every text unique in the run (a repeat is redrawn, deterministically)."""
        families = self.family_names()
        check_room(self.n, families, self.difficulties)
        draws = UniqueDraws(families, self.difficulties)
        for i in range(self.n):
            rngs = partial(_stream, ctx, i)
            problem, redraws = draws.draw(rngs, self.weights_at(i))
            params: dict[str, object] = {"family": problem.family, "difficulty": problem.difficulty}
            if problem.params:
                params["spec"] = problem.params  # a code problem's drawn spec
            if redraws:
                params["redraws"] = redraws
                ctx.count("redrawn_duplicates", redraws)
            yield Record.new(
                problem.to_row(),
                key=i,
                stage=self.label,
                seed=ctx.seed,
                recipe="problems",
                params=params,
            )

    def count(self) -> int:
        return self.n

    def preflight(self) -> None:
        """Fail before the run writes anything when n exceeds what the cells can make."""
        check_room(self.n, self.family_names(), self.difficulties)

    @classmethod
    def details(cls) -> tuple[list[str], list[list[str]]]:
        """How many distinct problems each family makes per difficulty (`synthmill stages
        problems`); ">=N" is a lower bound (a large space), the rest are exact."""
        levels = range(1, 6)
        table = capacity_table(FAMILIES, levels)
        header = ["family", *(f"difficulty {d}" for d in levels)]
        return header, [[f, *(table[f][d] for d in levels)] for f in FAMILIES]


def _stream(ctx: StageContext, i: int, attempt: int) -> random.Random:
    """Row i's random numbers for its first draw and each redraw."""
    return ctx.rng("problem", i) if attempt == 0 else ctx.rng("problem", i, attempt)


def _expand(name: str) -> list[str]:
    return [f for f in FAMILIES if f == name or f.startswith(name + ".")]


def _phase_weights(phases: list[Phase], levels: list[int], progress: float) -> list[float]:
    total = sum(p.share for p in phases)
    edge = 0.0
    for phase in phases:
        edge += phase.share / total
        if progress <= edge + 1e-12:
            break
    return [phase.weights.get(level, 0.0) for level in levels]
