"""`type: openai`: any OpenAI-compatible server (vLLM, TGI, SGLang, llama.cpp, Ollama, OpenAI).

Every call of a stage goes through one shared aiohttp client and one limiter per stage
(transport.py, limiter.py): at most `max_in_flight` requests in flight across all the
stage's batches and threads, optional requests/tokens per minute, and AIMD (429, 503 and
timeouts halve the allowed concurrency and Retry-After pauses the stage; successes grow it
back). 429, 5xx, timeouts, broken connections and unreadable bodies are retried with
exponential backoff and jitter, honouring Retry-After. JSON output is asked for in the
dialect the server speaks, found by a probe: `json_schema` (OpenAI), `json_object` +
`schema` (llama.cpp, vLLM), else the schema goes in the prompt and the caller validates.
The probe retries transient errors and downgrades only when the server clearly says it
does not speak a dialect.
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
import json
import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, wait
from typing import Any, ClassVar, Literal

import httpx
from pydantic import AliasChoices, Field, field_validator

from synthmill.errors import ConfigError
from synthmill.llm.base import Backend, BackendError, Completion, OnDone, Request
from synthmill.llm.limiter import estimate_tokens
from synthmill.llm.redact import redact, redact_secret
from synthmill.llm.retrying import RAW_PATH, Failure, Policy, Tally, send
from synthmill.llm.transport import Http, hub, scope

Dialect = Literal["json_schema", "json_object", "prompt"]

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
# One probe at a time per (event loop, base_url, model): a stage's batches start together.
_PROBE_LOCKS: dict[tuple[int, str, str], asyncio.Lock] = {}


class OpenAIBackend(Backend):
    kind: ClassVar[str] = "openai"
    speed_options: ClassVar[frozenset[str]] = frozenset(
        {
            "max_in_flight",
            "requests_per_minute",
            "tokens_per_minute",
            "timeout",
            "max_retries",
            "backoff",
            "max_wait",
            "api_key_env",
        }
    )

    model: str = Field(description="Model name the server knows, e.g. qwen2.5-7b.")
    base_url: str = Field(default="http://127.0.0.1:8000/v1", description="API root (…/v1).")
    api_key_env: str | None = Field(
        default=None, description="Name of the environment variable holding the API key."
    )
    # 256: what vLLM batches by default (max_num_seqs); a server that takes fewer answers
    # 429/503 and AIMD halves down to it within a few round trips (bench/client.py (b))
    max_in_flight: int = Field(
        default=256,
        ge=1,
        validation_alias=AliasChoices("max_in_flight", "concurrency"),
        description="Most requests in flight for the whole stage (AIMD lowers it on 429s).",
    )
    requests_per_minute: float | None = Field(
        default=None, gt=0, description="Optional cap on requests per minute for the stage."
    )
    tokens_per_minute: float | None = Field(
        default=None, gt=0, description="Optional cap on prompt+completion tokens per minute."
    )
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

    def batches_in_flight(self, batch_size: int) -> int:
        """Batches a stage should run at once so that max_in_flight requests stay busy
        (twice the minimum: a batch waits on its slowest call and on its retries)."""
        return 2 * -(-self.max_in_flight // batch_size)

    def supports_raw(self) -> bool:
        """Raw text completions (Request.prompt) go to /completions, see _one and raw_body."""
        return True

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        return self.complete_each(requests, _ignore)

    def complete_each(self, requests: Sequence[Request], on_done: OnDone) -> list[Completion]:
        """Run the batch on the process's shared client, under the stage's limiter."""
        shared = hub()
        key = f"{scope.get() or '-'}|{self.base_url}|{self.model}"
        rpm, tpm = self.requests_per_minute, self.tokens_per_minute
        limiter = shared.limiter(key, self.max_in_flight, rpm, tpm)
        client = Http(shared.session, self.base_url, self._headers(), self.timeout, limiter)
        # each reply is cached the moment it is paid for, on the hub's writer thread: a
        # SQLite commit on the loop thread would hold up every other reply (+15% requests/s
        # in bench/client.py). The loop hands the write over and goes on; this thread waits
        # for the batch's writes (and their errors) before it returns.
        writes: list[Future[None]] = []
        try:
            out = shared.run(self._complete_all(client, requests, on_done, writes))
        except BaseException:
            wait(writes)  # the replies paid so far land in the cache; this error comes first
            raise
        for write in writes:
            write.result()
        return out

    async def _complete_all(
        self,
        client: Http,
        requests: Sequence[Request],
        on_done: OnDone,
        writes: list[Future[None]],
    ) -> list[Completion]:
        wants_json = any(r.json_schema for r in requests)
        dialect = await self.dialect(client) if wants_json else None
        writer = hub().writer

        async def one(i: int, request: Request) -> Completion:
            completion = await self._one(client, request, dialect)
            writes.append(writer.submit(on_done, i, completion))
            return completion

        tasks = [asyncio.ensure_future(one(i, r)) for i, r in enumerate(requests)]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:  # a BackendError: stop the rest of the batch, then raise
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key()}"} if self.api_key_env else {}

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
        self, client: Http, request: Request, dialect: Dialect | Failure | None
    ) -> Completion:
        if isinstance(dialect, Failure) and request.json_schema is not None:
            return self._failed(dialect, "structured-output probe failed: ")
        tally = Tally()
        if request.prompt is not None:  # raw text completion (magpie): POST /completions
            body, path = self.raw_body(request), RAW_PATH
        else:
            body = self.body(request, None if isinstance(dialect, Failure) else dialect)
            path = "/chat/completions"
        tokens = self._estimate(body, request) if self.tokens_per_minute else 0
        result = await send(client, body, self._policy(), path=path, tally=tally, tokens=tokens)
        if isinstance(result, Failure):
            self._check_usable(result)
            _mark_down(self.base_url, result.kind == "unreachable")
            return self._failed(result, tally=tally)
        _mark_reached(self.base_url)
        convert = to_raw_completion if request.prompt is not None else to_completion
        done = convert(result, self.model, self._secrets())
        return Completion(**{**done.to_dict(), "extra": tally.extra()})

    @staticmethod
    def _estimate(body: dict[str, Any], request: Request) -> int:
        chars = len(str(body.get("prompt") or "")) + sum(
            len(str(m.get("content") or "")) for m in body.get("messages") or []
        )
        return estimate_tokens(chars, request.max_tokens)

    def _failed(self, failure: Failure, prefix: str = "", tally: Tally | None = None) -> Completion:
        wire = tally.extra() if tally is not None else {}
        return Completion(
            "",
            self.model,
            error=prefix + failure.error,
            finish_reason="error",
            transient=failure.transient or bool(prefix),
            extra={"attempts": failure.attempts, **wire},
        )

    def _check_usable(self, failure: Failure) -> None:
        """Raise BackendError when the server has never answered and this failure says why."""
        if failure.kind in ("unreachable", "refused") and not _reached(self.base_url):
            raise BackendError(unusable(self, failure))

    def body(self, request: Request, dialect: Dialect | None) -> dict[str, Any]:
        """The /chat/completions JSON body for one request in the given dialect."""
        messages = [dict(m) for m in request.messages]
        body = self._sampling(request, messages=messages)
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
        return self._sampling(request, prompt=request.prompt)

    def _sampling(self, request: Request, **content: Any) -> dict[str, Any]:
        """The body both endpoints share: model, what to complete, sampling, seed, stop."""
        body: dict[str, Any] = {
            "model": self.model,
            **content,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.stop:
            body["stop"] = list(request.stop)
        return body

    async def dialect(self, client: Http) -> Dialect | Failure:
        """The configured dialect, or the one this server accepts (probed once per process).

        A Failure when the probe could not decide (the server kept failing): nothing is
        remembered, so a later batch probes again.
        """
        if self.structured != "auto":
            return self.structured
        key = (self.base_url, self.model)
        with _DIALECT_LOCK:
            lock = _PROBE_LOCKS.setdefault((id(asyncio.get_running_loop()), *key), asyncio.Lock())
        async with lock:
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

    async def _probe(self, client: Http) -> Dialect | Failure:
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


def to_raw_completion(reply: dict[str, Any], model: str, secrets: Sequence[str] = ()) -> Completion:
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
