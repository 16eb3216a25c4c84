"""`textbook`: textbook sections, stories, blog posts or how-tos on topic x audience x format.

Phi-1 (Gunasekar et al. 2023, "Textbooks Are All You Need", arXiv:2306.11644) trained on
synthetic textbook-quality text; Cosmopedia (Ben Allal et al. 2024, Hugging Face) made it at
scale by crossing seed topics with audiences and formats. Here each row names its topic,
audience and format (draw the mix with `sample` before it); each format has its own prompt.
A text shorter than `min_words` is rejected. Topics may also come from the user's own
documents: `topics.cluster` (recipes/topics.py) clusters them and names each cluster.

    - use: sample
      n: 30
      columns:
        topic: [tides, volcanoes, fractions]
        audience: {type: category, values: [young children, high school students], weights: [1, 2]}
        format: [textbook, story, blog, howto]
    - use: textbook
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from synthmill.errors import DataError
from synthmill.pipeline.stage import StageContext
from synthmill.recipes.base import emit_child, json_schema
from synthmill.recipes.prompted import PromptedRecipe, prompts_field, text_of
from synthmill.records import Record

RECIPE = "textbook"
REASON_SHORT = "too short"

PROMPTS = {
    "textbook": (
        "Write a section of a textbook about {{ topic }} for {{ audience }}. Explain the idea "
        "step by step, with one worked example. Do not add a title."
    ),
    "story": (
        "Write a short story for {{ audience }} in which the characters come to understand "
        "{{ topic }}. Teach the idea through what happens, not through a lecture."
    ),
    "blog": (
        "Write an engaging blog post about {{ topic }} for {{ audience }}, with one concrete "
        "example from everyday life."
    ),
    "howto": (
        "Write a how-to guide about {{ topic }} for {{ audience }}: numbered steps, each with "
        "a sentence on why it matters."
    ),
}


class Passage(BaseModel):
    text: str


class Textbook(PromptedRecipe):
    """One text per row in the row's format, about its topic, for its audience."""

    kind: ClassVar[str] = "textbook"
    PROMPTS: ClassVar[dict[str, str]] = PROMPTS
    PROVIDES: ClassVar[frozenset[str]] = frozenset({"topic", "audience"})

    prompts: dict[str, str] = prompts_field(PROMPTS)
    topic_column: str = Field(default="topic", description="Column with the topic.")
    audience_column: str = Field(default="audience", description="Column with the audience.")
    format_column: str = Field(
        default="format", description=f"Column with the format: {', '.join(PROMPTS)}."
    )
    min_words: int = Field(default=30, ge=0, description="Texts with fewer words are rejected.")
    max_chars: int = Field(default=800, ge=50, le=800, description="Cap on a text's length.")
    max_tokens: int = Field(default=256, ge=8, description="Tokens per reply.")
    batch_size: int = Field(default=8, ge=1, description="Rows handed to process() at once.")

    def reads(self) -> list[str]:
        columns = [self.topic_column, self.audience_column, self.format_column]
        return list(dict.fromkeys([*columns, *self.template_reads()]))

    def writes(self) -> list[str]:
        return ["text"]

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        schema = json_schema({"text": self.max_chars})
        requests = [self.request(self.prompt(r), ctx, r.meta.id, schema) for r in batch]
        out = []
        for record, result in zip(batch, self.ask(requests, Passage, ctx), strict=True):
            text = text_of(result, "text")
            row = emit_child(
                result, record, {**record.data, "text": text}, stage=self.label, recipe=RECIPE
            )
            words = len(text.split())
            short = not row.rejected and words < self.min_words
            out.append(row.reject(self.label, REASON_SHORT, {"words": words}) if short else row)
        return out

    def prompt(self, record: Record) -> str:
        """The row's format prompt, filled with its topic and audience."""
        fmt = str(record.data.get(self.format_column) or "")
        if fmt not in self.PROMPTS:
            known = ", ".join(self.PROMPTS)
            raise DataError(
                f"format {fmt!r} in column {self.format_column!r} is not one of {known}"
            )
        topic = record.data.get(self.topic_column)
        audience = record.data.get(self.audience_column)
        return self.fill(fmt, record.data, topic=topic, audience=audience)
