"""Stages that are registered nowhere: `use: tests.pipeline.custom_stages:Shout` finds them."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from synthmill.pipeline.stage import Stage, StageContext
from synthmill.records import Record


class Shout(Stage):
    """Upper-case one column."""

    kind: ClassVar[str] = "shout"
    column: str = Field(default="text")
    suffix: str = Field(default="!")

    def reads(self) -> list[str]:
        return [self.column]

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        return [
            r.with_data(**{self.column: r.data[self.column].upper() + self.suffix}) for r in batch
        ]


class NotAStage:
    """A class that is not a Stage."""
