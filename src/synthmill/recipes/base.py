"""What every model-backed recipe shares: backend and sampling options, calls, provenance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from synthmill.llm.base import Request
from synthmill.llm.registry import BackendField, backend_option
from synthmill.llm.structured import Structured, complete_structured
from synthmill.pipeline.stage import Stage, StageContext
from synthmill.records import Record

M = TypeVar("M", bound=BaseModel)


class LLMRecipe(Stage):
    """A stage that asks a model: one item per call, JSON-constrained, retried on bad output."""

    backend: BackendField = backend_option()
    temperature: float = Field(default=0.7, ge=0.0, le=2.0, description="Sampling temperature.")
    top_p: float = Field(default=1.0, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    max_tokens: int = Field(default=128, ge=8, description="Tokens per reply; keep it small.")
    retries: int = Field(default=2, ge=0, description="Retries of a reply that fails its schema.")
    seed: int | None = Field(
        default=None, description="Salt for this stage's sampling seeds; default: the run seed."
    )

    def request(
        self, prompt: str, ctx: StageContext, key: object, schema: dict[str, Any] | None = None
    ) -> Request:
        """One user-turn request whose sampling seed depends only on (seed, stage, key)."""
        return self.chat([{"role": "user", "content": prompt}], ctx, key, schema)

    def chat(
        self,
        messages: Sequence[dict[str, str]],
        ctx: StageContext,
        key: object,
        schema: dict[str, Any] | None = None,
    ) -> Request:
        """A request for a whole conversation (a system turn, then the user turn)."""
        return Request(
            messages=tuple(messages),
            json_schema=schema,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.call_seed(ctx, key),
        )

    def call_seed(self, ctx: StageContext, key: object) -> int:
        """The sampling seed of one call: (run seed, stage, key), salted by `seed` if set."""
        rng = ctx.rng("call", key) if self.seed is None else ctx.rng("call", self.seed, key)
        return rng.randrange(2**31)

    def ask(
        self, requests: Sequence[Request], model: type[M], ctx: StageContext
    ) -> list[Structured[M]]:
        """Structured replies (validated against `model`), cached and counted on ctx."""
        if not requests:
            return []
        return complete_structured(self.backend, requests, model, ctx, retries=self.retries)


def emit(
    result: Structured[Any],
    data: dict[str, Any],
    *,
    key: object,
    stage: str,
    recipe: str,
    parents: tuple[str, ...] = (),
) -> Record:
    """The row a call made, with full provenance; a failed call gives a rejected row."""
    record = Record.new(
        data, key=key, stage=stage, parents=parents, recipe=recipe, **result.provenance()
    )
    if result.ok:
        return record
    return record.reject(stage, result.reason or "failed", raw=result.rejection())


def emit_child(
    result: Structured[Any],
    parent: Record,
    data: dict[str, Any],
    *,
    stage: str,
    recipe: str,
    key: object = None,
) -> Record:
    """emit() for a row derived from `parent`: its id is the parent, keyed by `key` if given."""
    return emit(
        result,
        data,
        key=parent.meta.id if key is None else key,
        stage=stage,
        recipe=recipe,
        parents=(parent.meta.id,),
    )


def json_schema(properties: dict[str, int]) -> dict[str, Any]:
    """An object schema of required string fields, each capped at a number of characters.

    The caps keep a small model's reply inside max_tokens, so the JSON always closes.
    """
    props = {name: {"type": "string", "maxLength": cap} for name, cap in properties.items()}
    return {"type": "object", "properties": props, "required": list(properties)}


def clean(text: str) -> str:
    """Trim whitespace and the quotes or labels small models like to wrap around text."""
    text = text.strip().strip('"').strip()
    return text
