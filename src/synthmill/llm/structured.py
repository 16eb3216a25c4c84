"""Structured output that never loses a row: parse, validate, retry with the error fed back.

`complete_structured(backend, requests, Model, ctx)` returns one `Structured` per request:
either `.value` (a validated Model instance) or `.reason` plus `.raw` (the last output),
which the recipe turns into `record.reject(stage, result.reason, raw=result.rejection())`.
When the call itself failed for a transient reason (timeout, 5xx, outage), that payload
carries `transient: true`, which makes the rejection transient (see Record.reject): the
runner retries the row on the next run. Invalid JSON or schema failures stay final.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from synthmill.llm.base import Backend, Completion, Request
from synthmill.llm.calls import complete, provenance
from synthmill.pipeline.stage import StageContext
from synthmill.records import TRANSIENT_KEY

M = TypeVar("M", bound=BaseModel)

# Outcome counters and rejection reasons (short categories; details go in `detail`).
OK_FIRST = "structured.ok_first_try"
OK_RETRY = "structured.ok_after_retry"
FAILED = "structured.failed"
REASON_CALL = "llm call failed"
REASON_JSON = "invalid json"
REASON_SCHEMA = "schema mismatch"
REASON_TRUNCATED = "truncated at max_tokens"  # invalid JSON because the reply was cut off

_FEEDBACK = (
    "Your reply was not valid: {error}. Reply again with only a JSON object that matches "
    "this JSON schema: {schema}"
)


@dataclass(frozen=True)
class Structured(Generic[M]):
    """The outcome for one request: a value, or the raw output and why it failed.

    `request` is the request as first sent (with its schema); retries add turns to it.
    """

    request: Request
    completion: Completion
    value: M | None = None
    reason: str | None = None
    detail: str = ""
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.value is not None

    @property
    def raw(self) -> str:
        return self.completion.text

    @property
    def transient(self) -> bool:
        """The call failed for a reason a later run may not meet (timeout, 5xx, outage)."""
        failed = self.value is None and self.completion.error is not None
        return failed and self.completion.transient

    def provenance(self) -> dict[str, Any]:
        """Meta fields (model, prompt_hash, params, seed) for Record.child(...)."""
        meta = provenance(self.request, self.completion)
        meta["params"]["attempts"] = self.attempts
        return meta

    def rejection(self) -> dict[str, Any]:
        """The raw payload for record.reject(...): output, error detail and attempts.

        `transient: true` in it marks the rejection transient, to be retried next run.
        """
        payload: dict[str, Any] = {"output": self.raw, "error": self.detail}
        payload["attempts"] = self.attempts
        if self.transient:
            payload[TRANSIENT_KEY] = True
        return payload


def complete_structured(
    backend: Backend,
    requests: Sequence[Request],
    model: type[M],
    ctx: StageContext | None = None,
    retries: int = 2,
) -> list[Structured[M]]:
    """Ask for JSON matching `model`; retry failures up to `retries` times with the error."""
    schema = model.model_json_schema()
    first = [with_schema(r, schema) for r in requests]
    current = list(first)
    results: list[Structured[M] | None] = [None] * len(requests)
    pending = list(range(len(requests)))
    for attempt in range(1, retries + 2):
        completions = complete(backend, [current[i] for i in pending], ctx)
        still: list[int] = []
        for i, completion in zip(pending, completions, strict=True):
            result = parse(first[i], completion, model, attempt)
            results[i] = result
            if not result.ok and result.reason != REASON_CALL and attempt <= retries:
                wanted = first[i].json_schema or schema
                current[i] = feedback(current[i], completion.text, result.detail, wanted)
                still.append(i)
        pending = still
        if not pending:
            break
    final = [r for r in results if r is not None]
    if ctx is not None:
        for r in final:
            ctx.count(FAILED if not r.ok else OK_FIRST if r.attempts == 1 else OK_RETRY)
    return final


def with_schema(request: Request, schema: dict[str, Any]) -> Request:
    """The request asking for constrained JSON, unless it already names a schema."""
    return request if request.json_schema is not None else replace(request, json_schema=schema)


def parse(request: Request, completion: Completion, model: type[M], attempt: int) -> Structured[M]:
    """Validate one completion against `model`; the reason is a short category."""
    if completion.error is not None:
        return Structured(request, completion, None, REASON_CALL, completion.error, attempt)
    try:
        # strict=False: a raw newline or tab inside a string (llama.cpp's JSON grammar lets them
        # through) is the text the model meant, not a broken reply.
        data = json.loads(extract_json(completion.text), strict=False)
    except json.JSONDecodeError as exc:
        if completion.finish_reason == "length":
            why = f"{exc}: the reply stopped at max_tokens ({request.max_tokens}); raise it"
            return Structured(request, completion, None, REASON_TRUNCATED, why, attempt)
        return Structured(request, completion, None, REASON_JSON, str(exc), attempt)
    try:
        value = model.model_validate(data)
    except ValidationError as exc:
        return Structured(request, completion, None, REASON_SCHEMA, _short(exc), attempt)
    return Structured(request, completion, value, None, "", attempt)


def extract_json(text: str) -> str:
    """The JSON object in a reply, tolerating code fences and chatter around it."""
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if 0 <= start < end else text.strip()


def feedback(request: Request, output: str, error: str, schema: dict[str, Any]) -> Request:
    """The same request followed by the bad reply and what was wrong with it."""
    note = _FEEDBACK.format(error=error, schema=json.dumps(schema))
    turns = ({"role": "assistant", "content": output}, {"role": "user", "content": note})
    return replace(request, messages=(*request.messages, *turns))


def _short(exc: ValidationError) -> str:
    parts = [f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors()]
    return "; ".join(parts[:3])
