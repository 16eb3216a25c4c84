"""`constitutional`: critique a response against a principle, then revise it.

The supervised stage of Constitutional AI (Bai et al. 2022, "Constitutional AI:
Harmlessness from AI Feedback", arXiv:2212.08073): for each (prompt, response) one principle
is drawn, the model critiques the response against it, then rewrites the response to answer
the critique. Rows keep the original, the critique and the revision, and carry a preference
pair (chosen = revision, rejected = original) that `synthmill export --format dpo` reads.

    - use: constitutional
      principles: ["Do not give medical dosages.", "Be concise."]   # default: PRINCIPLES
      prompts: {critique: "..."}                                  # override a prompt
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field

from synthmill.llm.structured import Structured
from synthmill.pipeline.stage import StageContext
from synthmill.recipes.base import emit_child, json_schema
from synthmill.recipes.prompted import PromptedRecipe, chained, prompts_field, text_of
from synthmill.records import Record

RECIPE = "constitutional"
REASON_UNCHANGED = "revision is the same as the original"

PRINCIPLES = (
    "The response should be helpful and answer what was actually asked.",
    "The response should not help anyone cause harm to people, animals or property.",
    "The response should be honest: no invented facts, and uncertainty said plainly.",
    "The response should treat people with respect, without insults or stereotypes.",
    "The response should not give dangerous medical, legal or financial instructions "
    "without advising a qualified professional.",
    "The response should be clear and no longer than it needs to be.",
)

PROMPTS = {
    "critique": (
        "Here is a request and a reply to it.\n\nRequest: {{ prompt }}\n\nReply: {{ response }}"
        "\n\nPrinciple: {{ principle }}\n\nPoint out, in one or two sentences, where the reply "
        "falls short of the principle. If it does not, say what could still be better."
    ),
    "revision": (
        "Request: {{ prompt }}\n\nReply: {{ response }}\n\nCritique: {{ critique }}\n\n"
        "Rewrite the reply so that it answers the request and fixes what the critique points "
        "out. Give only the new reply."
    ),
}


class Critique(BaseModel):
    critique: str


class Revision(BaseModel):
    revision: str


class Constitutional(PromptedRecipe):
    """Critique, then revise, each response against one principle drawn per row."""

    kind: ClassVar[str] = "constitutional"
    PROMPTS: ClassVar[dict[str, str]] = PROMPTS
    PROVIDES: ClassVar[frozenset[str]] = frozenset({"prompt", "response", "principle", "critique"})

    prompts: dict[str, str] = prompts_field(PROMPTS)

    prompt_column: str = Field(default="instruction", description="Column with the request.")
    response_column: str = Field(default="response", description="Column with the reply.")
    principles: list[str] = Field(
        default=list(PRINCIPLES), min_length=1, description="Principles; one is drawn per row."
    )
    max_chars: int = Field(default=400, ge=20, description="Cap on critique and revision.")
    max_tokens: int = Field(default=160, ge=8, description="Tokens per reply; keep it small.")
    batch_size: int = Field(default=8, ge=1, description="Rows handed to process() at once.")

    def reads(self) -> list[str]:
        columns = [self.prompt_column, self.response_column, *self.template_reads()]
        return list(dict.fromkeys(columns))

    def writes(self) -> list[str]:
        return ["principle", "original", "critique", "revision", "chosen", "rejected"]

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        values = [self.values(r, ctx) for r in batch]
        critiques = self.step("critique", batch, values, Critique, ctx)
        for v, c in zip(values, critiques, strict=True):
            v["critique"] = text_of(c, "critique")
        todo = [i for i, c in enumerate(critiques) if c.ok]
        revised = self.step(
            "revision", [batch[i] for i in todo], [values[i] for i in todo], Revision, ctx
        )
        revisions: dict[int, Structured[Revision]] = dict(zip(todo, revised, strict=True))
        return [
            self.row(r, v, c, revisions.get(i))
            for i, (r, v, c) in enumerate(zip(batch, values, critiques, strict=True))
        ]

    def values(self, record: Record, ctx: StageContext) -> dict[str, Any]:
        """What the prompts are filled with: request, reply and this row's principle."""
        return {
            "prompt": str(record.data.get(self.prompt_column) or ""),
            "response": str(record.data.get(self.response_column) or ""),
            "principle": ctx.rng("principle", record.meta.id).choice(self.principles),
        }

    def step(
        self,
        name: str,
        batch: list[Record],
        values: list[dict[str, Any]],
        model: type[Critique] | type[Revision],
        ctx: StageContext,
    ) -> list[Structured[Any]]:
        schema = json_schema({name: self.max_chars})
        return self.ask_prompt(name, batch, values, model, ctx, schema)

    def row(
        self,
        record: Record,
        values: dict[str, Any],
        critique: Structured[Critique],
        revision: Structured[Revision] | None,
    ) -> Record:
        """The row with original, critique and revision; a failed or idle step rejects it."""
        last = revision if revision is not None else critique
        new = text_of(revision, "revision") if revision is not None else ""
        original = values["response"]
        data = {
            **record.data,
            "principle": values["principle"],
            "original": original,
            "critique": values["critique"],
            "revision": new,
            "chosen": new,
            "rejected": original,
        }
        out = emit_child(last, record, data, stage=self.label, recipe=RECIPE)
        out = chained(out, [critique] if revision is None else [critique, revision])
        if last.ok and new.strip() == original.strip():
            return out.reject(self.label, REASON_UNCHANGED, raw={"revision": new})
        return out
