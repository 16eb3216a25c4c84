"""`range`: n numbered rows, the empty slots that a generator stage then fills."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from pydantic import Field

from synthmill.pipeline.stage import Source, StageContext
from synthmill.records import Record


class Range(Source):
    kind: ClassVar[str] = "range"
    n: int = Field(ge=0, description="How many rows to make.")
    column: str = Field(default="index", description="Column that holds the row number.")

    def rows(self, ctx: StageContext) -> Iterator[Record]:
        for i in range(self.n):
            yield Record.new({self.column: i}, key=i, stage=self.label, seed=ctx.seed)

    def count(self) -> int:
        return self.n
