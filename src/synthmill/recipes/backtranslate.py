"""`backtranslate`: the instruction a document answers, then a 1-5 self-curation score.

Instruction backtranslation (Li et al. 2023, "Self-Alignment with Instruction
Backtranslation", arXiv:2308.06259, the Humpback model): treat an unlabelled document as
the response, ask the model for the instruction it would answer (self-augmentation), then
have the model grade the pair on a five-point scale (self-curation). Pairs scoring under
`min_score` are rejected with their score and the grader's reason.

    - use: backtranslate
      column: text            # the document, kept as `response`
      min_score: 4            # the paper keeps the top grades
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field

from synthmill.llm.structured import Structured
from synthmill.pipeline.stage import StageContext
from synthmill.recipes.base import emit_child, json_schema
from synthmill.recipes.prompted import PromptedRecipe, chained, prompts_field, text_of
from synthmill.records import Record, Verdict

RECIPE = "backtranslate"
REASON_LOW = "low score"

PROMPTS = {
    "instruction": (
        "Below is a text written as the answer to some user's request.\n\nText: {{ response }}"
        "\n\nWrite the request a user could have made that this text answers well. Give only "
        "the request."
    ),
    "curate": (
        "Rate how well the answer serves the instruction, as an AI assistant's reply, from 1 "
        "to 5.\n1: off topic, or not an answer at all.\n2: touches the request but misses most "
        "of it.\n3: helpful but written from another point of view (a blog, a forum post).\n"
        "4: written as an assistant's answer, complete, could be clearer or tighter.\n"
        "5: a focused, expert, well organised answer to exactly this request.\n\n"
        "Instruction: {{ instruction }}\n\nAnswer: {{ response }}\n\nGive a short reason, "
        "then the score."
    ),
}


class Instruction(BaseModel):
    instruction: str


class Grade(BaseModel):
    reason: str
    score: int = Field(ge=1, le=5)


def grade_schema(reason_chars: int) -> dict[str, Any]:
    """The reason first (the model explains before it scores), then an integer 1-5."""
    schema = json_schema({"reason": reason_chars})
    schema["properties"]["score"] = {"type": "integer", "minimum": 1, "maximum": 5}
    schema["required"] = ["reason", "score"]
    return schema


class Backtranslate(PromptedRecipe):
    """Self-augmentation then self-curation: instruction for a document, graded 1-5."""

    kind: ClassVar[str] = "backtranslate"
    PROMPTS: ClassVar[dict[str, str]] = PROMPTS
    PROVIDES: ClassVar[frozenset[str]] = frozenset({"response", "instruction"})

    prompts: dict[str, str] = prompts_field(PROMPTS)

    column: str = Field(default="text", description="Column with the document (the answer).")
    min_score: int = Field(default=4, ge=1, le=5, description="Rows graded under it are rejected.")
    max_chars: int = Field(default=300, ge=20, le=800, description="Cap on the instruction.")
    max_tokens: int = Field(default=120, ge=8, description="Tokens per reply; keep it small.")
    batch_size: int = Field(default=8, ge=1, description="Rows handed to process() at once.")

    def reads(self) -> list[str]:
        return list(dict.fromkeys([self.column, *self.template_reads()]))

    def writes(self) -> list[str]:
        return ["instruction", "response", "score", "score_reason"]

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        values = [{"response": str(r.data.get(self.column) or "")} for r in batch]
        made = self.step("instruction", batch, values, Instruction, ctx)
        for v, m in zip(values, made, strict=True):
            v["instruction"] = text_of(m, "instruction")
        todo = [i for i, m in enumerate(made) if m.ok and values[i]["instruction"]]
        graded = self.step(
            "curate", [batch[i] for i in todo], [values[i] for i in todo], Grade, ctx
        )
        grades = dict(zip(todo, graded, strict=True))
        return [
            self.row(r, v, m, grades.get(i))
            for i, (r, v, m) in enumerate(zip(batch, values, made, strict=True))
        ]

    def step(
        self,
        name: str,
        batch: list[Record],
        values: list[dict[str, Any]],
        model: type[Instruction] | type[Grade],
        ctx: StageContext,
    ) -> list[Structured[Any]]:
        schema = json_schema({name: self.max_chars}) if model is Instruction else grade_schema(200)
        return self.ask_prompt(name, batch, values, model, ctx, schema)

    def row(
        self,
        record: Record,
        values: dict[str, Any],
        made: Structured[Instruction],
        grade: Structured[Grade] | None,
    ) -> Record:
        """The pair with its grade; rejected when a step failed or the grade is too low."""
        value = grade.value if grade is not None else None
        data = {
            **record.data,
            "instruction": values["instruction"],
            "response": values["response"],
            "score": value.score if value is not None else None,
            "score_reason": value.reason.strip() if value is not None else "",
        }
        last = grade if grade is not None else made
        out = emit_child(last, record, data, stage=self.label, recipe=RECIPE)
        out = chained(out, [made] if grade is None else [made, grade])
        if out.rejected:
            return out
        if value is None:
            return out.reject(self.label, "empty instruction", raw={"output": made.raw})
        ok = value.score >= self.min_score
        raw = {"score": value.score, "reason": data["score_reason"], "min_score": self.min_score}
        verdict = Verdict(ok, "" if ok else REASON_LOW, float(value.score), raw)
        out = out.with_verdict(self.label, verdict)
        return out if ok else out.reject(self.label, REASON_LOW, raw)
