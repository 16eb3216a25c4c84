"""`type: openai`: any OpenAI-compatible server (vLLM, TGI, SGLang, llama.cpp, Ollama, OpenAI).

Requests run concurrently (up to `concurrency`) over httpx; 429, 5xx, timeouts, broken
connections and unreadable bodies are retried with exponential backoff and jitter,
honouring Retry-After. JSON output is asked for in the dialect the server speaks,
found by a probe: `json_schema` (OpenAI), `json_object` + `schema` (llama.cpp, vLLM),
else the schema goes in the prompt and the caller validates. The API key is read from
the environment variable named by `api_key_env` and is never stored on the backend.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, ClassVar, Literal, TypeVar

import httpx
from pydantic import Field

from synthmill.errors import ConfigError
from synthmill.llm.base import Backend, Completion, Request
from synthmill.llm.retrying import Failure, send

Dialect = Literal["json_schema", "json_object", "prompt"]
T = TypeVar("T")

PROBE_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
# Statuses with which servers refuse a response_format they do not speak (llama.cpp: 500).
REJECTS_FORMAT = frozenset({400, 404, 415, 422, 500, 501})
PROMPT_NOTE = "Reply with only a JSON object that matches this JSON schema:\n{schema}"

# Which structured-output dialect each (base_url, model) speaks, found once per process.
_DIALECTS: dict[tuple[str, str], Dialect] = {}
_DIALECT_LOCK = threading.Lock()


class OpenAIBackend(Backend):
    kind: ClassVar[str] = "openai"

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

    @property
    def model_name(self) -> str:
        return self.model

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        return _run_sync(self._complete_all(requests))

    async def _complete_all(self, requests: Sequence[Request]) -> list[Completion]:
        limit = asyncio.Semaphore(self.concurrency)
        async with self._client() as client:
            dialect = await self.dialect(client) if any(r.json_schema for r in requests) else None

            async def one(request: Request) -> Completion:
                async with limit:
                    return await self._one(client, request, dialect)

            return list(await asyncio.gather(*(one(r) for r in requests)))

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

    async def _one(
        self, client: httpx.AsyncClient, request: Request, dialect: Dialect | None
    ) -> Completion:
        body = self.body(request, dialect)
        result = await send(client, body, self.max_retries, self.backoff, self.max_wait)
        if isinstance(result, Failure):
            extra = {"attempts": result.attempts}
            return Completion(
                "", self.model, error=result.error, finish_reason="error", extra=extra
            )
        return to_completion(result, self.model)

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

    async def dialect(self, client: httpx.AsyncClient) -> Dialect:
        """The configured dialect, or the one this server accepts (probed once per process)."""
        if self.structured != "auto":
            return self.structured
        key = (self.base_url, self.model)
        with _DIALECT_LOCK:
            known = _DIALECTS.get(key)
        if known is not None:
            return known
        found = await self._probe(client)
        if found is None:  # server unreachable: decide on a later batch
            return "prompt"
        with _DIALECT_LOCK:
            _DIALECTS[key] = found
        return found

    async def _probe(self, client: httpx.AsyncClient) -> Dialect | None:
        """The first dialect the server answers; None when it could not be reached."""
        messages = [{"role": "user", "content": 'Reply with {"ok": true}.'}]
        dialects: tuple[Dialect, ...] = ("json_schema", "json_object")
        for dialect in dialects:
            body = {"model": self.model, "messages": messages, "max_tokens": 8}
            body["response_format"] = response_format(dialect, PROBE_SCHEMA)
            args = (self.max_retries, self.backoff, self.max_wait, REJECTS_FORMAT)
            result = await send(client, body, *args)
            if not isinstance(result, Failure):
                return dialect
            if result.status is None or result.status not in REJECTS_FORMAT:
                return None
        return "prompt"


def response_format(dialect: str, schema: dict[str, Any]) -> dict[str, Any]:
    """response_format for OpenAI's json_schema form or the json_object + schema form."""
    if dialect == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
    return {"type": "json_object", "schema": schema}


def to_completion(reply: dict[str, Any], model: str) -> Completion:
    """An OpenAI chat.completion body (already checked by send) as a Completion."""
    choice = reply["choices"][0]
    usage = reply.get("usage") or {}
    return Completion(
        text=choice["message"].get("content") or "",
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
