"""`evol_instruct`: rewrite each instruction into a harder (in-depth) or a new (in-breadth) one.

After Xu et al. 2023, "WizardLM". Each row gets one evolution drawn from its own rng; chain
the stage to evolve over several rounds, and run `filter.evolution` to drop failed ones.
"""

from __future__ import annotations

from typing import ClassVar, Literal, get_args

from pydantic import BaseModel, Field

from synthmill.pipeline.stage import StageContext
from synthmill.recipes.base import LLMRecipe, clean, emit_child, json_schema
from synthmill.records import Record

RECIPE = "evol-instruct"
Method = Literal[
    "add_constraints", "deepen", "concretize", "increase_reasoning", "complicate_input", "breadth"
]

IN_DEPTH: dict[str, str] = {
    "add_constraints": "Add one more constraint or requirement to it.",
    "deepen": "If it asks about a topic, make the question go deeper and broader.",
    "concretize": "Replace general ideas in it with more specific, concrete ones.",
    "increase_reasoning": "Rewrite it so that answering needs several steps of reasoning.",
    "complicate_input": "Add a small piece of data (a short list, table or example) it must use.",
}
_DEPTH = (
    "Rewrite the prompt below into a more difficult version that people can still "
    "understand and answer. {how} Add at most 20 words, and do not answer it.\n\n"
    "Prompt: {prompt}"
)
_BREADTH = (
    "Write a brand new prompt inspired by the prompt below: same domain, but a rarer and "
    "different task of similar length and difficulty. Do not answer it.\n\n"
    "Prompt: {prompt}"
)


# Answers to the old prompt do not answer the evolved one; its input is folded into it.
STALE = ("output", "response", "messages", "system", "input")


class Evolved(BaseModel):
    prompt: str


def evolution_prompt(method: str, prompt: str) -> str:
    """The instruction that asks a model to evolve `prompt` with `method`."""
    if method == "breadth":
        return _BREADTH.format(prompt=prompt)
    return _DEPTH.format(how=IN_DEPTH[method], prompt=prompt)


class EvolInstruct(LLMRecipe):
    kind: ClassVar[str] = "evol_instruct"

    column: str = Field(default="instruction", description="Column holding the prompt to evolve.")
    methods: list[Method] = Field(
        default=list(get_args(Method)), min_length=1, description="Evolutions to draw from."
    )
    max_chars: int = Field(default=400, ge=20, description="Cap on the evolved prompt's length.")
    batch_size: int = Field(default=8, ge=1, description="Rows handed to process() at once.")

    def reads(self) -> list[str]:
        return [self.column]

    def writes(self) -> list[str]:
        return [self.column, "input", "evolved_from", "evolution", "evol_round"]

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        methods = [ctx.rng(r.meta.id).choice(self.methods) for r in batch]
        schema = json_schema({"prompt": self.max_chars})
        requests = [
            self.request(evolution_prompt(m, self.text(r)), ctx, r.meta.id, schema)
            for r, m in zip(batch, methods, strict=True)
        ]
        results = self.ask(requests, Evolved, ctx)
        out = []
        for record, method, result in zip(batch, methods, results, strict=True):
            evolved = clean(result.value.prompt) if result.value is not None else ""
            kept = {k: v for k, v in record.data.items() if k not in STALE}
            data = {
                **kept,
                "input": "",
                self.column: evolved,
                "evolved_from": self.text(record),
                "evolution": method,
                "evol_round": int(record.data.get("evol_round") or 0) + 1,
            }
            out.append(emit_child(result, record, data, stage=self.label, recipe=RECIPE))
        return out

    def text(self, record: Record) -> str:
        """The prompt to evolve: the instruction, and its input when it has one."""
        given = str(record.data.get("input") or "").strip() if self.column != "input" else ""
        prompt = str(record.data.get(self.column) or "")
        return f"{prompt}\n{given}" if given else prompt
