"""`filter.length`: keep rows whose text is within character and word bounds."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow as pa
from pydantic import Field

from synthmill.curate.arrow_text import char_counts, text_column, word_counts
from synthmill.pipeline.columnar import TableVerdicts, text_values
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

    def check_table(self, table: pa.Table) -> TableVerdicts:
        """check() on a whole column: Arrow kernels count the characters, and the words
        of plain text (curate/arrow_text.py); str.split() counts the others."""
        values = text_column(table, self.column)
        if values is not None:
            chars, words = char_counts(values), word_counts(values)
        else:  # not a text column: str() of each value, as check() reads it
            texts = text_values(table, self.column)
            chars = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
            words = np.fromiter((len(t.split()) for t in texts), np.int64, count=len(texts))
        rules = [
            (chars < self.min_chars, f"fewer than {self.min_chars} characters"),
            (words < self.min_words, f"fewer than {self.min_words} words"),
        ]
        if self.max_chars is not None:
            rules.insert(1, (chars > self.max_chars, f"more than {self.max_chars} characters"))
        if self.max_words is not None:
            rules.append((words > self.max_words, f"more than {self.max_words} words"))
        reason = np.full(len(chars), -1, dtype=np.int64)
        for k in reversed(range(len(rules))):  # the first failed rule names the reason
            reason[rules[k][0]] = k
        names = [name for _, name in rules] + [""]
        return TableVerdicts(reason < 0, [names[r] for r in reason.tolist()], chars)
