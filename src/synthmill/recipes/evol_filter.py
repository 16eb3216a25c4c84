"""`filter.evolution`: WizardLM's elimination of failed evolutions.

An evolution fails when it adds nothing (no new content word, or a copy of the original),
when it copies words of the evolving prompt ("#Rewritten Prompt#"), or when the model
refuses or answers with nothing but punctuation and stop words.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from synthmill.pipeline.stage import Check
from synthmill.recipes.text import content_words, words
from synthmill.records import Record, Verdict

LEAKS = (
    "given prompt",
    "rewritten prompt",
    "created prompt",
    "prompt below",
    "[insert",
    "prompt here",
)
REFUSALS = ("sorry", "as an ai", "i cannot", "i can't", "i am unable", "i'm unable")


class EvolutionFilter(Check):
    kind: ClassVar[str] = "filter.evolution"

    column: str = Field(default="instruction", description="Column holding the evolved prompt.")
    original_column: str = Field(default="evolved_from", description="Column of the original.")
    response_column: str | None = Field(
        default="response", description="Column of an answer to the evolved prompt, if any."
    )
    refusal_max_words: int = Field(
        default=80, ge=1, description="A reply saying 'sorry' this short counts as a refusal."
    )

    def reads(self) -> list[str]:
        """The response column is optional unless it is not the default."""
        response = self.response_column
        extra = [] if response is None or response == "response" else [response]
        return [self.column, self.original_column, *extra]

    def check(self, record: Record) -> Verdict:
        evolved = str(record.data.get(self.column) or "")
        original = str(record.data.get(self.original_column) or "")
        reason = (
            _no_gain(evolved, original)
            or _leak(evolved)
            or _refusal(evolved, 10**9, "evolution is a refusal")
            or self._response_problem(record)
        )
        return Verdict(reason is None, reason or "", float(len(words(evolved))))

    def _response_problem(self, record: Record) -> str | None:
        if self.response_column is None or self.response_column not in record.data:
            return None
        response = str(record.data.get(self.response_column) or "")
        if not content_words(response):
            return "response is only stop words or punctuation"
        return _refusal(response, self.refusal_max_words, "response is a refusal")


def _no_gain(evolved: str, original: str) -> str | None:
    if not words(evolved):
        return "empty evolution"
    if words(evolved) == words(original):
        return "no information gain"
    if not set(content_words(evolved)) - set(content_words(original)):
        return "no information gain"
    return None


def _leak(evolved: str) -> str | None:
    lowered = evolved.lower()
    return "copies the evolving prompt" if any(s in lowered for s in LEAKS) else None


def _refusal(text: str, max_words: int, reason: str) -> str | None:
    lowered = text.lower()
    if any(s in lowered for s in REFUSALS) and len(text.split()) < max_words:
        return reason
    return None
