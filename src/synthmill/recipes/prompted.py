"""What the recipes from the literature share: named prompt templates a YAML can override.

A recipe lists its prompts in one place (`PROMPTS`) and the variables it fills in itself
(`PROVIDES`); `prompts: {critique: "..."}` replaces one of them. An override may also name
row columns, which then join the recipe's declared reads. A row made by several calls
records one prompt hash over all of them, so changing any prompt changes it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, Field, field_validator

from synthmill.llm.structured import Structured
from synthmill.pipeline.stage import StageContext
from synthmill.recipes.base import LLMRecipe
from synthmill.records import Record, stable_hash
from synthmill.templates import check_template, render, template_variables


class PromptedRecipe(LLMRecipe):
    """An LLM recipe whose prompts are named Jinja2 templates, each overridable."""

    PROMPTS: ClassVar[dict[str, str]] = {}
    PROVIDES: ClassVar[frozenset[str]] = frozenset()

    prompts: dict[str, str] = Field(
        default={}, description="Replace prompt templates by name ({name: template})."
    )

    @field_validator("prompts")
    @classmethod
    def _known_prompts(cls, value: dict[str, str]) -> dict[str, str]:
        for name, source in value.items():
            if name not in cls.PROMPTS:
                raise ValueError(unknown_prompt(name, cls.PROMPTS))
            check_template(source)
        return value

    def template(self, name: str) -> str:
        """The template named `name`: the user's override, else the recipe's own."""
        return self.prompts.get(name, self.PROMPTS[name])

    def fill(self, name: str, row: Mapping[str, Any], **values: Any) -> str:
        """The prompt `name` rendered over the row's columns and the recipe's own values."""
        return render(self.template(name), {**row, **values})

    def ask_prompt(
        self,
        name: str,
        batch: Sequence[Record],
        values: Sequence[Mapping[str, Any]],
        model: type[BaseModel],
        ctx: StageContext,
        schema: dict[str, Any],
    ) -> list[Structured[Any]]:
        """Ask prompt `name` once per row, filled with that row's own values.

        Each call's seed is keyed by (row id, prompt name), so steps of a chain differ.
        """
        requests = [
            self.request(self.fill(name, r.data, **v), ctx, (r.meta.id, name), schema)
            for r, v in zip(batch, values, strict=True)
        ]
        return list(self.ask(requests, model, ctx))

    def template_reads(self) -> list[str]:
        """Row columns the prompts name beyond what the recipe fills in."""
        names: set[str] = set()
        for name in self.PROMPTS:
            names |= template_variables(self.template(name))
        return sorted(names - self.PROVIDES)


def prompts_field(prompts: Mapping[str, str]) -> Any:
    """The `prompts` option of a recipe, its help naming the prompts one can replace."""
    names = ", ".join(prompts)
    return Field(default={}, description=f"Replace prompts by name ({names}): {{name: template}}.")


def unknown_prompt(name: str, known: Mapping[str, str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"no prompt named {name!r} (prompts: {', '.join(known)}){hint}"


def chained(record: Record, results: Sequence[Structured[Any]]) -> Record:
    """The row of a chain of calls: one prompt hash over every call, and the call count."""
    hashes = [r.request.prompt_hash() for r in results]
    params = {**record.meta.params, "calls": len(results)}
    return record.with_meta(prompt_hash=stable_hash(*hashes), params=params)


def text_of(result: Structured[Any], field: str) -> str:
    """A string field of a structured reply, trimmed; '' when the call failed."""
    value = result.value
    return str(getattr(value, field, "") or "").strip() if value is not None else ""
