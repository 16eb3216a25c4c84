"""`judge.grounded`: a model judges whether the passage supports each answer (optional).

Use it after `filter.grounded` (cheap, lexical) to catch paraphrased or wrong answers the
word overlap lets through. A weak judge is worse than none: use a capable backend.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from synthmill.llm.structured import Structured
from synthmill.pipeline.stage import StageContext
from synthmill.recipes.base import LLMRecipe
from synthmill.records import Record, Verdict

REJECTED = "judge: answer not supported"
SCHEMA = {
    "type": "object",
    "properties": {
        "supported": {"type": "string", "enum": ["yes", "no"]},
        "reason": {"type": "string", "maxLength": 160},
    },
    "required": ["supported", "reason"],
}


class Judgement(BaseModel):
    supported: Literal["yes", "no"]
    reason: str = ""


def judge_prompt(context: str, question: str, answer: str) -> str:
    """Ask whether the passage alone supports the answer to the question."""
    return (
        f"Passage: {context}\n\nQuestion: {question}\nAnswer: {answer}\n\n"
        "Does the passage alone support this answer to the question? Say yes or no, "
        "with a short reason."
    )


class GroundedJudge(LLMRecipe):
    kind: ClassVar[str] = "judge.grounded"

    context_column: str = Field(default="context", description="Column with the passage.")
    question_column: str = Field(default="question", description="Column with the question.")
    answer_column: str = Field(default="answer", description="Column with the answer.")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="0: the same verdict.")
    max_tokens: int = Field(default=80, ge=8, description="Tokens per reply; keep it small.")
    batch_size: int = Field(default=8, ge=1, description="Rows handed to process() at once.")

    def reads(self) -> list[str]:
        return [self.context_column, self.question_column, self.answer_column]

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        requests = [self.request(self.prompt(r), ctx, r.meta.id, SCHEMA) for r in batch]
        results = self.ask(requests, Judgement, ctx)
        return [self.decide(r, res) for r, res in zip(batch, results, strict=True)]

    def prompt(self, record: Record) -> str:
        get = record.data.get
        return judge_prompt(
            str(get(self.context_column) or ""),
            str(get(self.question_column) or ""),
            str(get(self.answer_column) or ""),
        )

    def decide(self, record: Record, result: Structured[Judgement]) -> Record:
        """Keep on 'yes'; reject on 'no' (with the judge's reason) or on a failed call."""
        if result.value is None:
            reason = f"judge: {result.reason or 'failed'}"
            return record.reject(self.label, reason, raw=result.rejection())
        supported = result.value.supported == "yes"
        verdict = Verdict(supported, "" if supported else REJECTED, float(supported))
        record = record.with_verdict(self.label, verdict)
        if supported:
            return record
        raw = {"judge_reason": result.value.reason, "model": result.completion.model}
        return record.reject(self.label, REJECTED, raw=raw)
