"""`filter.grounded`: keep a question-answer pair only if its passage supports the answer.

The check is lexical: the share of the answer's content words (stop words removed,
plurals folded) found in the passage must reach `min_coverage`; the share is the score.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from synthmill.pipeline.stage import Check
from synthmill.recipes.text import content_words, coverage, words
from synthmill.records import Record, Verdict


class GroundedFilter(Check):
    kind: ClassVar[str] = "filter.grounded"

    context_column: str = Field(default="context", description="Column with the passage.")
    question_column: str = Field(default="question", description="Column with the question.")
    answer_column: str = Field(default="answer", description="Column with the answer.")
    min_coverage: float = Field(
        default=0.6, ge=0.0, le=1.0, description="Share of answer words the passage must hold."
    )

    def reads(self) -> list[str]:
        return [self.context_column, self.question_column, self.answer_column]

    def check(self, record: Record) -> Verdict:
        context = str(record.data.get(self.context_column) or "")
        question = str(record.data.get(self.question_column) or "")
        answer = str(record.data.get(self.answer_column) or "")
        if not words(question) or not words(answer):
            return Verdict(False, "empty question or answer", 0.0)
        if not content_words(answer):
            return Verdict(False, "answer has no content words", 0.0)
        if words(answer) == words(question):
            return Verdict(False, "answer repeats the question", 0.0)
        score = coverage(answer, context)
        if score < self.min_coverage:
            return Verdict(False, "answer not supported by the passage", score)
        return Verdict(True, score=score)
