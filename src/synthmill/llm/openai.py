"""`type: openai`: any OpenAI-compatible server (vLLM, TGI, SGLang, llama.cpp, Ollama, OpenAI).

Requests run concurrently (up to `concurrency`) over httpx; 429, 5xx, timeouts, broken
connections and unreadable bodies are retried with exponential backoff and jitter,
honouring Retry-After. JSON output is asked for in the dialect the server speaks,
found by a probe: `json_schema` (OpenAI), `json_object` + `schema` (llama.cpp, vLLM),
else the schema goes in the prompt and the caller validates. The probe retries transient
errors and downgrades only when the server clearly says it does not speak a dialect.
Raw text completions (Request.prompt, which magpie sends) go to /completions with the
same retries and fail-fast. The API key is read from the environment variable named by
`api_key_env`, is never stored on the backend, and is redacted from every error text.

Fail fast: until a server has answered once in this process, a refused connection or a
401/403/404 raises BackendError (a one-line config error) instead of rejecting rows. A
server that goes away mid-run gives transient rejects (retried next run); once one call
found nobody listening, the others retry only briefly until the server answers again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, ClassVar, Literal, TypeVar

import httpx
from pydantic import Field, field_validator

from synthmill.errors import ConfigError
from synthmill.llm.base import Backend, BackendError, Completion, OnDone, Request
from synthmill.llm.redact import redact, redact_secret
from synthmill.llm.retrying import RAW_PATH, Failure, Policy, send

Dialect = Literal["json_schema", "json_object", "prompt"]
T = TypeVar("T")

log = logging.getLogger(__name__)

PROBE_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
# Statuses with which servers say "I do not speak this response_format".
UNSUPPORTED_STATUSES = frozenset({400, 415, 422, 501})
# How a 500 says it refused the format, not that it broke: llama_cpp.server answers
# json_schema with a 500 whose body is a validation error located at `response_format`.
REFUSAL_WORDS = ("validation error", "not supported", "unsupported", "should be")
PROMPT_NOTE = "Reply with only a JSON object that matches this JSON schema:\n{schema}"

# Which structured-output dialect each (base_url, model) speaks, found once per process.
_DIALECTS: dict[tuple[str, str], Dialect] = {}
_DIALECT_LOCK = threading.Lock()
# Base URLs that have answered at least once in this process (after that, no fail-fast),
# and those whose last call found nobody listening (the rest of the batch fails quickly).
_REACHED: set[str] = set()
_DOWN: set[str] = set()


class OpenAIBackend(Backend):
    kind: ClassVar[str] = "openai"
    speed_options: ClassVar[frozenset[str]] = frozenset(
        {"concurrency", "timeout", "max_retries", "backoff", "max_wait", "api_key_env"}
    )

    model: str = Field(description="Model name the server knows, e.g. qwen2.5-7b.")
    base_url: str = Field(default="http://127.0.0.1:8000/v1", description="API root (…/v1).")
    api_key_env: str | None = Field(
        default=None, description="Name of the environment variable holding the API key."
    )
    concurrency: int = Field(default=4, ge=1, description="Requests in flight at once.")
    timeout: float = Field(default=120.0, gt=0, description="Seconds per HTTP request.")
    max_retries: int = Field(default=6, ge=0, description="Retries per request after the first.")
    backoff: float = Field(default=0.5, gt=0, description="First backoff in seconds; doubles.")
    max_wait: float = Field(default=60.0, gt=0, description="Longest single wait, Retry-After too.")
    structured: Literal["auto", "json_schema", "json_object", "prompt"] = Field(
        default="auto", description="How to ask for JSON; auto probes the server once."
    )

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        """An http(s) URL with a host, or a one-line error now rather than retries later."""
        try:
            url = httpx.URL(value)
            ok = url.scheme in ("http", "https") and bool(url.host)
        except (httpx.InvalidURL, ValueError, TypeError):
            ok = False
        if not ok:
            raise ValueError("not an http(s) URL like http://127.0.0.1:8000/v1")
        return value

    @property
    def model_name(self) -> str:
        return self.model

    def supports_raw(self) -> bool:
        """Raw text completions (Request.prompt) go to /completions, see _one and raw_body."""
        return True

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        return self.complete_each(requests, _ignore)

    def complete_each(self, requests: Sequence[Request], on_done: OnDone) -> list[Completion]:
        return _run_sync(self._complete_all(requests, on_done))

    async def _complete_all(self, requests: Sequence[Request], on_done: OnDone) -> list[Completion]:
        limit = asyncio.Semaphore(self.concurrency)
        async with self._client() as client:
            wants_json = any(r.json_schema for r in requests)
            dialect = await self.dialect(client) if wants_json else None

            async def one(i: int, request: Request) -> Completion:
                async with limit:
                    completion = await self._one(client, request, dialect)
                on_done(i, completion)  # cached the moment it is paid for
                return completion

            return list(await asyncio.gather(*(one(i, r) for i, r in enumerate(requests))))

    def _client(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self._api_key()}"} if self.api_key_env else {}
        limits = httpx.Limits(max_connections=self.concurrency)
        return httpx.AsyncClient(
            base_url=self.base_url.rstrip("/"), headers=headers, timeout=self.timeout, limits=limits
        )

    def _api_key(self) -> str:
        name = self.api_key_env or ""
        key = os.environ.get(name)
        if not key:
            raise ConfigError(f"backend.api_key_env: environment variable {name} is not set")
        return key

    def _secrets(self) -> tuple[str, ...]:
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        return (key,) if key else ()

    def _policy(self) -> Policy:
        fail_fast = not _reached(self.base_url) or _down(self.base_url)
        args = (self.max_retries, self.backoff, self.max_wait)
        return Policy(*args, fail_fast=fail_fast, secrets=self._secrets())

    async def _one(
        self, client: httpx.AsyncClient, request: Request, dialect: Dialect | Failure | None
    ) -> Completion:
        if isinstance(dialect, Failure) and request.json_schema is not None:
            return self._failed(dialect, "structured-output probe failed: ")
        if request.prompt is not None:  # raw text completion (magpie): POST /completions
            result = await send(client, self.raw_body(request), self._policy(), path=RAW_PATH)
        else:
            body = self.body(request, None if isinstance(dialect, Failure) else dialect)
            result = await send(client, body, self._policy())
        if isinstance(result, Failure):
            self._check_usable(result)
            _mark_down(self.base_url, result.kind == "unreachable")
            return self._failed(result)
        _mark_reached(self.base_url)
        if request.prompt is not None:
            return to_raw_completion(result, self.model, self._secrets())
        return to_completion(result, self.model, self._secrets())

    def _failed(self, failure: Failure, prefix: str = "") -> Completion:
        return Completion(
            "",
            self.model,
            error=prefix + failure.error,
            finish_reason="error",
            transient=failure.transient or bool(prefix),
            extra={"attempts": failure.attempts},
        )

    def _check_usable(self, failure: Failure) -> None:
        """Raise BackendError when the server has never answered and this failure says why."""
        if failure.kind in ("unreachable", "refused") and not _reached(self.base_url):
            raise BackendError(unusable(self, failure))

    def body(self, request: Request, dialect: Dialect | None) -> dict[str, Any]:
        """The /chat/completions JSON body for one request in the given dialect."""
        messages = [dict(m) for m in request.messages]
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.stop:
            body["stop"] = list(request.stop)
        schema = request.json_schema
        if schema is not None and dialect is not None:
            if dialect == "prompt":
                note = PROMPT_NOTE.format(schema=json.dumps(schema))
                body["messages"] = [*messages, {"role": "user", "content": note}]
            else:
                body["response_format"] = response_format(dialect, schema)
        return body

    def raw_body(self, request: Request) -> dict[str, Any]:
        """The /completions JSON body of a raw text completion: the prompt as it is."""
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": request.prompt,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.stop:
            body["stop"] = list(request.stop)
        return body

    async def dialect(self, client: httpx.AsyncClient) -> Dialect | Failure:
        """The configured dialect, or the one this server accepts (probed once per process).

        A Failure when the probe could not decide (the server kept failing): nothing is
        remembered, so a later batch probes again.
        """
        if self.structured != "auto":
            return self.structured
        key = (self.base_url, self.model)
        with _DIALECT_LOCK:
            known = _DIALECTS.get(key)
        if known is not None:
            return known
        found = await self._probe(client)
        if isinstance(found, Failure):
            return found
        with _DIALECT_LOCK:
            _DIALECTS[key] = found
        return found

    async def _probe(self, client: httpx.AsyncClient) -> Dialect | Failure:
        """The first dialect the server answers; transient errors are retried, not taken
        as "unsupported"."""
        messages = [{"role": "user", "content": 'Reply with {"ok": true}.'}]
        dialects: tuple[Dialect, ...] = ("json_schema", "json_object")
        for dialect in dialects:
            body = {"model": self.model, "messages": messages, "max_tokens": 8}
            body["response_format"] = response_format(dialect, PROBE_SCHEMA)
            result = await send(client, body, self._policy(), format_unsupported)
            if not isinstance(result, Failure):
                _mark_reached(self.base_url)
                return dialect
            if result.kind != "unsupported":
                self._check_usable(result)
                return result
            log.info("%s does not accept %s: %s", self.base_url, dialect, result.error)
        return "prompt"


def format_unsupported(status: int, text: str) -> bool:
    """Whether an error answer to a probe says "this response_format is not supported"."""
    if status in UNSUPPORTED_STATUSES:
        return True
    lower = text.lower()
    refused = any(word in lower for word in REFUSAL_WORDS)
    return status == 500 and "response_format" in lower and refused


def unusable(backend: OpenAIBackend, failure: Failure) -> str:
    """The one-line error for a backend that cannot be used: what failed and what to do."""
    url = redact(backend.base_url)
    what = " ".join(failure.error.split())[:160]
    if failure.kind == "unreachable":
        hint = "start the server or fix backend.base_url"
    elif failure.status == 404:
        hint = f"check backend.base_url (usually ends in /v1) and backend.model ({backend.model})"
    elif backend.api_key_env:
        hint = f"check the API key in ${backend.api_key_env}"
    else:
        hint = "set backend.api_key_env to the environment variable holding the API key"
    return f"backend {url} cannot be used: {what}; {hint}"


def _reached(base_url: str) -> bool:
    with _DIALECT_LOCK:
        return base_url in _REACHED


def _mark_reached(base_url: str) -> None:
    with _DIALECT_LOCK:
        _REACHED.add(base_url)
        _DOWN.discard(base_url)


def _down(base_url: str) -> bool:
    with _DIALECT_LOCK:
        return base_url in _DOWN


def _mark_down(base_url: str, down: bool) -> None:
    """A server that went away mid-run: later calls retry briefly, not for minutes each."""
    with _DIALECT_LOCK:
        if down:
            _DOWN.add(base_url)


def _ignore(index: int, completion: Completion) -> None:
    return None


def response_format(dialect: str, schema: dict[str, Any]) -> dict[str, Any]:
    """response_format for OpenAI's json_schema form or the json_object + schema form."""
    if dialect == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
    return {"type": "json_object", "schema": schema}


def to_completion(reply: dict[str, Any], model: str, secrets: Sequence[str] = ()) -> Completion:
    """An OpenAI chat.completion body (already checked by send) as a Completion."""
    choice = reply["choices"][0]
    usage = reply.get("usage") or {}
    return Completion(
        text=redact_secret(str(choice["message"].get("content") or ""), secrets),
        model=model,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        finish_reason=choice.get("finish_reason"),
    )


def to_raw_completion(
    reply: dict[str, Any], model: str, secrets: Sequence[str] = ()
) -> Completion:
    """An OpenAI text_completion body (/completions, checked by send) as a Completion."""
    choice = reply["choices"][0]
    usage = reply.get("usage") or {}
    return Completion(
        text=redact_secret(str(choice.get("text") or ""), secrets),
        model=model,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        finish_reason=choice.get("finish_reason"),
    )


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code, also when the caller already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
