"""`generate`: one model call per row, from a Jinja2 template; the way to ask a model.

    - use: generate
      system: "You are a {{ persona }}."        # optional, a template too
      prompt: "Write a {{ level }} question about {{ topic }}."
      output: question                          # free text into one column
    - use: generate
      prompt: "Answer briefly: {{ question }}"
      schema: {answer: str, confidence: {type: integer, minimum: 1, maximum: 5}}
      n: 3                                      # 3 rows per input row, each naming its parent

Free text is stored as the model wrote it (not wrapped in JSON); a schema constrains the
reply with the backend's JSON-schema support, validates it, and feeds errors back. The
columns a template names are checked against the data before any call (`reads()`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

from synthmill.errors import DataError
from synthmill.llm.base import Completion, Request
from synthmill.llm.calls import complete
from synthmill.llm.structured import REASON_CALL, Structured
from synthmill.pipeline.stage import StageContext
from synthmill.recipes.base import LLMRecipe, emit
from synthmill.recipes.output_schema import SchemaSpec, model_path, schema_model
from synthmill.records import Record
from synthmill.templates import check_template, missing_message, render, template_variables

RECIPE = "generate"
REASON_EMPTY = "empty output"
REASON_TRUNCATED = "truncated at max_tokens"


class FreeText(BaseModel):
    """A free-text reply, as a value the structured-output machinery can carry."""

    text: str


class Generate(LLMRecipe):
    """One model call per row from a prompt template: free text or a schema's fields."""

    model_config = ConfigDict(populate_by_name=True)  # `schema:` in YAML, output_schema too
    kind: ClassVar[str] = "generate"

    prompt: str = Field(description="Jinja2 template of the user turn over the row's columns.")
    system: str | None = Field(default=None, description="Jinja2 template of a system turn.")
    output: str | None = Field(default=None, description="Column for the free-text reply.")
    output_schema: SchemaSpec | None = Field(
        default=None,
        alias="schema",
        description="Fields of a structured reply ({answer: str, ...} or 'module:Model').",
    )
    n: int = Field(default=1, ge=1, le=1000, description="Samples per row, each its own row.")
    max_chars: int | None = Field(
        default=None, ge=1, description="Cap on schema string fields without their own maxLength."
    )
    stop: list[str] = Field(default=[], description="Strings that end a free-text reply.")
    keep_truncated: bool = Field(
        default=False,
        description="Keep a free-text reply that hit max_tokens (finish_reason: length); "
        "by default it is rejected as 'truncated at max_tokens'.",
    )
    max_tokens: int = Field(default=256, ge=8, description="Tokens per reply.")
    batch_size: int = Field(default=8, ge=1, description="Rows handed to process() at once.")

    @field_validator("prompt", "system")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value)

    @field_validator("output_schema")
    @classmethod
    def _builds(cls, value: SchemaSpec | None) -> SchemaSpec | None:
        if value is not None:
            schema_model(value)
        return value

    @field_serializer("output_schema")
    def _schema_config(self, value: SchemaSpec | None) -> Any:
        return model_path(value) if isinstance(value, type) else value

    @model_validator(mode="after")
    def _one_output(self) -> Generate:
        if (self.output is None) == (self.output_schema is None):
            raise ValueError("give either output: COLUMN (free text) or schema: (structured)")
        if self.output is not None and not self.output.isidentifier():
            raise ValueError(f"output: {self.output!r} is not a column name (letters, _)")
        return self

    # ---- declared columns -----------------------------------------------------------------
    def reads(self) -> list[str]:
        """The columns the templates name (checked against the data before any call)."""
        names = template_variables(self.prompt) | template_variables(self.system or "")
        return sorted(names)

    def writes(self) -> list[str]:
        if self.output is not None:
            return [self.output]
        return list(self.model().model_fields)

    def model(self) -> type[BaseModel]:
        """The pydantic model of a structured reply (FreeText for free text)."""
        if self.output_schema is None:
            return FreeText
        return schema_model(self.output_schema, self.max_chars)

    def to_config(self) -> dict[str, object]:
        config = super().to_config()
        schema = config.pop("output_schema", None)  # pydantic keeps it (custom serializer)
        return config if schema is None else {**config, "schema": schema}

    # ---- one call per row (per sample) ----------------------------------------------------
    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        check_rows(batch, self.reads())
        jobs = [(r, k) for r in batch for k in range(self.n)]
        requests = [self.chat(self.messages(r.data), ctx, self.key(r, k)) for r, k in jobs]
        results = self.results(requests, ctx)
        return [self.row(r, k, res) for (r, k), res in zip(jobs, results, strict=True)]

    def messages(self, row: dict[str, Any]) -> list[dict[str, str]]:
        """The conversation for one row: an optional system turn, then the prompt."""
        head = [{"role": "system", "content": render(self.system, row)}] if self.system else []
        return [*head, {"role": "user", "content": render(self.prompt, row)}]

    def chat(
        self,
        messages: Sequence[dict[str, str]],
        ctx: StageContext,
        key: object,
        schema: dict[str, Any] | None = None,
    ) -> Request:
        request = super().chat(messages, ctx, key, schema)
        return replace(request, stop=tuple(self.stop)) if self.stop else request

    def key(self, record: Record, k: int) -> object:
        """What a sample's seed and id are keyed by: the row, and the sample when n > 1."""
        return record.meta.id if self.n == 1 else (record.meta.id, k)

    def results(self, requests: list[Request], ctx: StageContext) -> list[Structured[Any]]:
        if self.output_schema is not None:
            return self.ask(requests, self.model(), ctx)
        return free_text(self, requests, ctx, keep_truncated=self.keep_truncated)

    def row(self, parent: Record, k: int, result: Structured[Any]) -> Record:
        """The child row of one sample, with its new columns and provenance."""
        value = result.value
        new: dict[str, Any]
        if self.output is not None:
            new = {self.output: value.text if isinstance(value, FreeText) else ""}
        else:
            new = value.model_dump() if value is not None else dict.fromkeys(self.writes())
        record = emit(
            result,
            {**parent.data, **new},
            key=self.key(parent, k),
            stage=self.label,
            recipe=RECIPE,
            parents=(parent.meta.id,),
        )
        if self.n == 1:
            return record
        return record.with_meta(params={**record.meta.params, "sample": k})


def free_text(
    stage: LLMRecipe, requests: list[Request], ctx: StageContext, keep_truncated: bool = False
) -> list[Structured[Any]]:
    """Plain completions as outcomes: the text, or why there is none (call failed, empty,
    cut off at max_tokens unless `keep_truncated`).

    An empty reply is asked again up to `retries` times with a new seed (a small model
    may open with the stop string); the row records the request that gave its text.
    """
    results: list[Structured[Any]] = [None] * len(requests)  # type: ignore[list-item]
    pending = list(range(len(requests)))
    current = list(requests)
    for attempt in range(1, stage.retries + 2):
        completions = complete(stage.backend, [current[i] for i in pending], ctx) if pending else []
        for i, completion in zip(pending, completions, strict=True):
            results[i] = _text_outcome(current[i], completion, attempt, keep_truncated)
        pending = [i for i in pending if results[i].reason == REASON_EMPTY]
        current = [replace(r, seed=(r.seed or 0) + 1) for r in current]
    return results


def _text_outcome(
    request: Request, completion: Completion, attempt: int, keep_truncated: bool = False
) -> Structured[Any]:
    text = completion.text.strip()
    if completion.error is not None:
        return Structured(request, completion, None, REASON_CALL, completion.error, attempt)
    if not text:
        return Structured(request, completion, None, REASON_EMPTY, "the reply was empty", attempt)
    if completion.finish_reason == "length" and not keep_truncated:
        why = (
            f"the reply stopped at max_tokens ({request.max_tokens}; finish_reason: length), "
            "so it may end mid-word; raise max_tokens or set keep_truncated: true"
        )
        return Structured(request, completion, None, REASON_TRUNCATED, why, attempt)
    return Structured(request, completion, FreeText(text=text), attempts=attempt)


def check_rows(batch: Sequence[Record], columns: Sequence[str]) -> None:
    """A DataError naming the columns when a row lacks one a template needs."""
    for record in batch:
        if not set(columns) <= record.data.keys():
            raise DataError(missing_message(columns, record.data.keys()))
