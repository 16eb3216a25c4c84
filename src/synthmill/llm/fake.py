"""`type: fake`: a deterministic backend for unit tests of recipe logic.

Replies come from a list (picked by request hash, so the same request always gets the
same reply) or from a function `module:name` that maps a Request to a string.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from pydantic import Field

from synthmill.errors import ConfigError
from synthmill.llm.base import Backend, Completion, OnDone, Request
from synthmill.pipeline.function import load_function
from synthmill.records import stable_hash


class FakeBackend(Backend):
    kind: ClassVar[str] = "fake"

    replies: list[str] = Field(default=["ok"], min_length=1, description="Canned replies.")
    function: str | None = Field(
        default=None, description="'module:name' of a function Request -> str; beats replies."
    )
    model: str = Field(default="fake", description="Model name recorded in provenance.")
    fail_every: int = Field(
        default=0, ge=0, description="Make every n-th distinct request fail (0 = never)."
    )
    transient: bool = Field(
        default=False, description="Those failures are transient (a timeout): retried next run."
    )
    raw: bool = Field(
        default=True, description="Take raw text completions; false acts as a chat-only backend."
    )

    @property
    def model_name(self) -> str:
        return self.model

    def supports_raw(self) -> bool:
        return self.raw

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        return self.complete_each(requests, lambda i, c: None)

    def complete_each(self, requests: Sequence[Request], on_done: OnDone) -> list[Completion]:
        reply = self._function()
        out = []
        for i, request in enumerate(requests):
            out.append(self._one(request, reply))
            on_done(i, out[-1])  # one call at a time, like a real backend
        return out

    def _one(self, request: Request, reply: Callable[[Request], str] | None) -> Completion:
        if request.prompt is not None and not self.raw:
            return Completion(
                "", self.model, error="fake: no raw completions", finish_reason="error"
            )
        index = int(request_key(request), 16)
        if self.fail_every and index % self.fail_every == 0:
            error = "fake timeout" if self.transient else "fake failure"
            return Completion(
                "", self.model, error=error, finish_reason="error", transient=self.transient
            )
        text = reply(request) if reply else self.replies[index % len(self.replies)]
        prompt = sum(len(m.get("content", "").split()) for m in request.messages)
        prompt += len((request.prompt or "").split())
        return Completion(text, self.model, prompt, len(text.split()), finish_reason="stop")

    def cache_identity(self) -> dict[str, Any]:
        """The options plus the source of `function`: editing the function changes replies."""
        identity = super().cache_identity()
        reply = self._function()
        if reply is not None:
            identity["function_source"] = _source(reply)
        return identity

    def _function(self) -> Callable[[Request], str] | None:
        if self.function is None:
            return None
        try:
            return load_function(self.function)  # the same lookup as `use: map` stages
        except ValueError as exc:
            raise ConfigError(f"function: {exc}") from None


def _source(function: Callable[..., Any]) -> str:
    """A function's source code, or its qualified name when the source is not available."""
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return f"{function.__module__}:{function.__qualname__}"


def request_key(request: Request) -> str:
    """A stable hash of everything that determines a reply (messages, schema, params)."""
    raw = () if request.prompt is None else (request.prompt,)
    return stable_hash(request.messages, request.json_schema, request.params(), *raw)
