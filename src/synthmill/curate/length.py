"""`filter.length`: keep rows whose text is within character and word bounds."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from synthmill.pipeline.stage import Check
from synthmill.records import Record, Verdict


class LengthFilter(Check):
    kind: ClassVar[str] = "filter.length"
    column: str = Field(default="text", description="Column to measure.")
    min_chars: int = Field(default=0, ge=0)
    max_chars: int | None = Field(default=None, ge=1)
    min_words: int = Field(default=0, ge=0)
    max_words: int | None = Field(default=None, ge=1)

    def reads(self) -> list[str]:
        return [self.column]

    def check(self, record: Record) -> Verdict:
        text = str(record.data.get(self.column) or "")
        chars, words = len(text), len(text.split())
        if chars < self.min_chars:
            return Verdict(False, f"fewer than {self.min_chars} characters", chars)
        if self.max_chars is not None and chars > self.max_chars:
            return Verdict(False, f"more than {self.max_chars} characters", chars)
        if words < self.min_words:
            return Verdict(False, f"fewer than {self.min_words} words", chars)
        if self.max_words is not None and words > self.max_words:
            return Verdict(False, f"more than {self.max_words} words", chars)
        return Verdict(True, score=chars)
