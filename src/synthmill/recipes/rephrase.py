"""`rephrase`: the same document rewritten in several styles, each row naming its source.

WRAP (Maini et al. 2024, "Rephrasing the Web: A Recipe for Compute and Data-Efficient
Language Modeling", arXiv:2401.16380) rephrases web text in four styles: easy (simple words),
medium (encyclopedic), hard (scholarly) and question-answer. A rephrasing that lost or
invented content is dropped: its length against the source's, the share of the source's
content words it keeps, and the share of its own content words the source has, must all be
in bounds.

    - use: rephrase
      styles: [easy, qa]          # default: easy, medium, hard, qa
      min_kept: 0.3               # share of the source's content words still there
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from synthmill.pipeline.stage import StageContext
from synthmill.recipes.base import emit_child, json_schema
from synthmill.recipes.prompted import PromptedRecipe, prompts_field, text_of
from synthmill.records import Record, Verdict

RECIPE = "rephrase"
Style = Literal["easy", "medium", "hard", "qa"]
STYLES: tuple[Style, ...] = ("easy", "medium", "hard", "qa")

PROMPTS = {
    "easy": (
        "Rewrite this text with short sentences and the simplest everyday words, so that a "
        "young child could follow it. Keep every fact.\n\nText: {{ text }}"
    ),
    "medium": (
        "Rewrite this text in clear, neutral English in the style of an encyclopedia "
        "article. Keep every fact and add none.\n\nText: {{ text }}"
    ),
    "hard": (
        "Rewrite this text in dense, formal, scholarly language, with precise and uncommon "
        "words. Keep every fact and add none.\n\nText: {{ text }}"
    ),
    "qa": (
        "Turn this text into a few pairs of lines, each 'Question: ...' followed by "
        "'Answer: ...', that together cover what the text says.\n\nText: {{ text }}"
    ),
}

_STOPWORD_TEXT = (
    "the and for are but not you all any can had her was one our out has him his how its "
    "may who did get let put say she too use that with have this will your from they been "
    "were what when where which while their there these those them then than into also "
    "some such only over very more most other about would could should each question "
    "answer"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


class Rephrased(BaseModel):
    text: str


def content_words(text: str) -> set[str]:
    """Lower-case words of three letters or more, minus stopwords, a plural 's' trimmed."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {w.removesuffix("s") for w in words if len(w) >= 3 and w not in STOPWORDS}


class Rephrase(PromptedRecipe):
    """One rephrasing per document and style; content checks drop the unfaithful ones."""

    kind: ClassVar[str] = "rephrase"
    PROMPTS: ClassVar[dict[str, str]] = PROMPTS
    PROVIDES: ClassVar[frozenset[str]] = frozenset({"text"})

    prompts: dict[str, str] = prompts_field(PROMPTS)

    column: str = Field(default="text", description="Column with the document.")
    styles: list[Style] = Field(default=list(STYLES), min_length=1, description="Styles to make.")
    min_ratio: float = Field(default=0.3, gt=0, description="Least length, over the source's.")
    max_ratio: float = Field(default=3.0, gt=0, description="Most length, over the source's.")
    min_kept: float = Field(
        default=0.25, ge=0, le=1, description="Least share of the source's content words kept."
    )
    min_grounded: float = Field(
        default=0.25, ge=0, le=1, description="Least share of its content words in the source."
    )
    max_chars: int = Field(
        default=600,
        ge=20,
        le=800,
        description="Cap on a rephrasing's length (chunk long documents first).",
    )
    max_tokens: int = Field(default=320, ge=8, description="Tokens per reply.")
    batch_size: int = Field(default=8, ge=1, description="Rows handed to process() at once.")

    def reads(self) -> list[str]:
        return list(dict.fromkeys([self.column, *self.template_reads()]))

    def writes(self) -> list[str]:
        return ["style", "rephrased"]

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        schema = json_schema({"text": self.max_chars})
        jobs = [(r, s) for r in batch for s in dict.fromkeys(self.styles)]
        requests = [
            self.request(self.fill(s, r.data, text=self.source(r)), ctx, (r.meta.id, s), schema)
            for r, s in jobs
        ]
        results = self.ask(requests, Rephrased, ctx)
        out = []
        for (record, style), result in zip(jobs, results, strict=True):
            data = {**record.data, "style": style, "rephrased": text_of(result, "text")}
            row = emit_child(
                result, record, data, stage=self.label, recipe=RECIPE, key=(record.meta.id, style)
            )
            out.append(row if row.rejected else self.judged(row, self.source(record)))
        return out

    def source(self, record: Record) -> str:
        return str(record.data.get(self.column) or "")

    def judged(self, row: Record, source: str) -> Record:
        """The row with its faithfulness verdict; rejected when it lost or invented content."""
        verdict = self.faithful(source, str(row.data["rephrased"]))
        row = row.with_verdict(self.label, verdict)
        return row if verdict.ok else row.reject(self.label, verdict.reason, verdict.raw)

    def faithful(self, source: str, text: str) -> Verdict:
        """Length ratio and content-word overlap in both directions, against the bounds."""
        mine, theirs = content_words(text), content_words(source)
        common = len(mine & theirs)
        measured: dict[str, Any] = {
            "ratio": round(len(text) / max(1, len(source)), 3),
            "kept": round(common / max(1, len(theirs)), 3),
            "grounded": round(common / max(1, len(mine)), 3),
        }
        if not self.min_ratio <= measured["ratio"] <= self.max_ratio:
            bound = "too short" if measured["ratio"] < self.min_ratio else "too long"
            return Verdict(False, f"length ratio {bound}", measured["ratio"], measured)
        if measured["kept"] < self.min_kept:
            return Verdict(False, "lost content", measured["kept"], measured)
        if measured["grounded"] < self.min_grounded:
            return Verdict(False, "invented content", measured["grounded"], measured)
        return Verdict(True, "", min(measured["kept"], measured["grounded"]), measured)
