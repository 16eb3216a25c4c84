"""`docqa`: grounded question-answer pairs from passages, one pair per model call.

Run it after `chunk`; each chunk gets `questions` calls with different seeds. Follow it
with `filter.grounded` to keep only pairs whose answer the passage supports.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from synthmill.pipeline.stage import StageContext
from synthmill.recipes.base import LLMRecipe, clean, emit_child, json_schema
from synthmill.records import Record

RECIPE = "docqa"


class QAPair(BaseModel):
    question: str
    answer: str


def qa_prompt(passage: str) -> str:
    """Ask for one question the passage answers, and the answer in the passage's words."""
    return (
        f"Passage: {passage}\n\nWrite one question that this passage answers, and its short "
        "answer using words from the passage."
    )


class DocQA(LLMRecipe):
    kind: ClassVar[str] = "docqa"

    column: str = Field(default="text", description="Column holding the passage.")
    questions: int = Field(default=1, ge=1, description="Question-answer pairs per passage.")
    max_chars: int = Field(default=200, ge=20, description="Cap on question and answer length.")
    max_tokens: int = Field(default=120, ge=8, description="Tokens per reply; keep it small.")
    batch_size: int = Field(default=8, ge=1, description="Rows handed to process() at once.")

    def reads(self) -> list[str]:
        return [self.column]

    def writes(self) -> list[str]:
        return ["context", "question", "answer"]

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        schema = json_schema({"question": self.max_chars, "answer": self.max_chars})
        jobs = [(r, k) for r in batch for k in range(self.questions)]
        requests = [
            self.request(qa_prompt(self.passage(r)), ctx, (r.meta.id, k), schema) for r, k in jobs
        ]
        results = self.ask(requests, QAPair, ctx)
        out = []
        for (record, k), result in zip(jobs, results, strict=True):
            pair = result.value
            data = {
                **{c: v for c, v in record.data.items() if c != self.column},
                "context": self.passage(record),
                "question": clean(pair.question) if pair else "",
                "answer": clean(pair.answer) if pair else "",
            }
            out.append(
                emit_child(
                    result, record, data, stage=self.label, recipe=RECIPE, key=(record.meta.id, k)
                )
            )
        return out

    def passage(self, record: Record) -> str:
        return str(record.data.get(self.column) or "")
