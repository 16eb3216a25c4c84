"""`distill`: a teacher model answers each prompt; rows gain `response` and chat `messages`.

With `explain: true`, each row gets one of several system prompts asking for step-by-step
explanations, as in Orca's explanation tuning (Mukherjee et al. 2023), drawn per row.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from synthmill.pipeline.stage import StageContext
from synthmill.recipes.base import LLMRecipe, clean, emit_child, json_schema
from synthmill.records import Record

RECIPE = "distill"

EXPLAIN_SYSTEM_PROMPTS = (
    "You are a helpful assistant. Think step by step and explain your reasoning before "
    "giving the final answer.",
    "You are a patient teacher. Explain the answer in simple steps, as if to a student "
    "who is seeing the problem for the first time.",
    "You are an assistant who always justifies answers. Give the answer, then explain "
    "briefly why it is correct.",
    "You are a careful expert. Break the task into parts, solve each part, and then "
    "combine them into a final answer.",
    "You are a helpful assistant. When a task has an input, first say what the input "
    "tells you, then use it step by step to reach the answer.",
)


class Answer(BaseModel):
    answer: str


class Distill(LLMRecipe):
    kind: ClassVar[str] = "distill"

    prompt_column: str = Field(default="instruction", description="Column with the prompt.")
    input_column: str | None = Field(
        default="input", description="Column appended to the prompt when not empty."
    )
    system: str | None = Field(default=None, description="One system prompt for every row.")
    explain: bool = Field(
        default=False, description="Orca-style: draw a step-by-step system prompt per row."
    )
    system_prompts: list[str] = Field(
        default=list(EXPLAIN_SYSTEM_PROMPTS), min_length=1, description="Pool for explain."
    )
    max_chars: int = Field(default=600, ge=20, description="Cap on the answer's characters.")
    max_tokens: int = Field(default=200, ge=8, description="Tokens per reply; keep it small.")
    batch_size: int = Field(default=8, ge=1, description="Rows handed to process() at once.")

    def reads(self) -> list[str]:
        """The prompt; the input column only when not the default (rows may lack `input`)."""
        given = self.input_column
        return [self.prompt_column, *([] if given is None or given == "input" else [given])]

    def writes(self) -> list[str]:
        return ["system", "response", "messages"]

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        schema = json_schema({"answer": self.max_chars})
        turns = [self.turns(r, ctx) for r in batch]
        requests = [self.chat(t, ctx, r.meta.id, schema) for r, t in zip(batch, turns, strict=True)]
        results = self.ask(requests, Answer, ctx)
        out = []
        for record, convo, result in zip(batch, turns, results, strict=True):
            answer = clean(result.value.answer) if result.value is not None else ""
            messages = [*convo, {"role": "assistant", "content": answer}]
            system = convo[0]["content"] if convo[0]["role"] == "system" else ""
            data = {**record.data, "system": system, "response": answer, "messages": messages}
            out.append(emit_child(result, record, data, stage=self.label, recipe=RECIPE))
        return out

    def turns(self, record: Record, ctx: StageContext) -> list[dict[str, str]]:
        """The conversation sent to the teacher: an optional system turn, then the prompt."""
        system = self.system
        if self.explain:
            system = ctx.rng(record.meta.id).choice(self.system_prompts)
        user = user_turn(record, self.prompt_column, self.input_column)
        head = [{"role": "system", "content": system}] if system else []
        return [*head, {"role": "user", "content": user}]


def user_turn(record: Record, prompt_column: str, input_column: str | None) -> str:
    """The prompt, followed by its input (a blank line between) when there is one."""
    prompt = str(record.data.get(prompt_column) or "").strip()
    given = str(record.data.get(input_column) or "").strip() if input_column else ""
    return f"{prompt}\n\n{given}" if given else prompt
