"""One POST to /chat/completions with retries: backoff with jitter, Retry-After honoured.

Every failure gets a kind, which decides what happens to the row and to the run:
- transient: 408, 409, 425, 429, 5xx, timeouts, broken connections, bodies that are not
  a chat completion. Retried here; after the last retry the row is retried next run.
- unreachable: nothing answers at the URL (refused, DNS, connect timeout).
- refused: 401, 403, 404: the key, the permission or the model/URL is wrong.
- rejected: any other 4xx, or a 500 that is a request validation error (llama_cpp.server
  answers those with 500): the request itself is bad; retrying cannot fix it.
- unsupported: the server says it does not speak a response_format (probes only).
Error texts are redacted (API key, `Bearer` tokens) before they are logged or kept.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from synthmill.llm.redact import redact

log = logging.getLogger(__name__)
PATH = "/chat/completions"
RAW_PATH = "/completions"  # raw text completions (Request.prompt): the reply has choices[0].text
ERROR_CHARS = 200  # of an error body kept in the reason (after redaction)
QUICK_RETRIES = 2  # for an unreachable server that has never answered: fail fast
QUICK_WAIT = 0.25

Kind = Literal["transient", "unreachable", "refused", "rejected", "unsupported"]
RETRY_STATUSES = frozenset({408, 409, 425, 429})
REFUSED_STATUSES = frozenset({401, 403, 404})
Unsupported = Callable[[int, str], bool]
VALIDATION = "validation error"  # how llama_cpp.server's 500 says the request is malformed


@dataclass(frozen=True)
class Failure:
    """Why a call failed after all its attempts (never contains request headers)."""

    error: str
    attempts: int
    status: int | None = None  # the last HTTP status, None for network errors
    kind: Kind = "transient"

    @property
    def transient(self) -> bool:
        """A later run may succeed where this one failed (not the request's own fault)."""
        return self.kind in ("transient", "unreachable", "refused")


@dataclass(frozen=True)
class _Attempt:
    reply: dict[str, Any] | None
    error: str = ""
    kind: Kind = "transient"
    retry_after: float | None = None
    status: int | None = None

    @property
    def retry(self) -> bool:
        return self.kind in ("transient", "unreachable")


@dataclass(frozen=True)
class Policy:
    """How hard to try: retries, backoff, and whether an unreachable server fails fast."""

    max_retries: int
    backoff: float
    max_wait: float
    fail_fast: bool = False  # unreachable: only QUICK_RETRIES short retries
    secrets: Sequence[str] = ()  # redacted from every error text


async def send(
    client: httpx.AsyncClient,
    body: dict[str, Any],
    policy: Policy,
    unsupported: Unsupported | None = None,
    path: str = PATH,
) -> dict[str, Any] | Failure:
    """The reply body, or a Failure after the retries its kind allows."""
    attempt = _Attempt(None)
    for n in range(policy.max_retries + 1):
        attempt = await _try(client, body, policy.secrets, unsupported, path)
        if attempt.reply is not None:
            return attempt.reply
        if not attempt.retry or n == _limit(attempt, policy):
            return Failure(attempt.error, n + 1, attempt.status, attempt.kind)
        wait = _wait(n, attempt, policy)
        log.info("retrying in %.2fs after %s", wait, attempt.error)
        await asyncio.sleep(wait)
    return Failure(attempt.error, policy.max_retries + 1, attempt.status, attempt.kind)


def _limit(attempt: _Attempt, policy: Policy) -> int:
    quick = policy.fail_fast and attempt.kind == "unreachable"
    return min(policy.max_retries, QUICK_RETRIES) if quick else policy.max_retries


def _wait(n: int, attempt: _Attempt, policy: Policy) -> float:
    if policy.fail_fast and attempt.kind == "unreachable":
        return QUICK_WAIT * 2.0**n
    return retry_delay(n, policy.backoff, policy.max_wait, attempt.retry_after)


async def _try(
    client: httpx.AsyncClient,
    body: dict[str, Any],
    secrets: Sequence[str],
    unsupported: Unsupported | None,
    path: str = PATH,
) -> _Attempt:
    try:
        resp = await client.post(path, json=body)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # refused, DNS, blackholed
        return _Attempt(None, f"cannot connect ({_why(exc)})", "unreachable")
    except httpx.TimeoutException:
        return _Attempt(None, "timeout")
    except httpx.TransportError as exc:  # reset, closed mid-response
        return _Attempt(None, f"connection error ({type(exc).__name__})")
    status = resp.status_code
    if status == 200:
        reply = _chat_reply(resp, path)
        return _Attempt(reply, "" if reply else "malformed response body", status=status)
    text = redact(resp.text, secrets)
    error = f"HTTP {status}: {text[:ERROR_CHARS]}"
    wait = parse_retry_after(resp.headers.get("retry-after"))
    return _Attempt(None, error, _kind(status, text, unsupported), wait, status)


def _kind(status: int, text: str, unsupported: Unsupported | None) -> Kind:
    if unsupported is not None and unsupported(status, text):
        return "unsupported"
    if status == 500 and VALIDATION in text:
        return "rejected"  # llama_cpp.server answers a malformed request with a 500
    if status in RETRY_STATUSES or status >= 500:
        return "transient"
    return "refused" if status in REFUSED_STATUSES else "rejected"


def _why(exc: BaseException) -> str:
    """A short cause: 'Connection refused', 'Name or service not known'... from the chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            errno = seen.errno if isinstance(seen.errno, int) else 0
            why = os.strerror(errno) if errno > 0 else seen.strerror  # DNS errors are < 0
            return redact(why)[:ERROR_CHARS]
        seen = seen.__cause__ or seen.__context__
    text = str(exc) or type(exc).__name__
    return redact(text.split("] ", 1)[-1])[:ERROR_CHARS]


def _chat_reply(resp: httpx.Response, path: str = PATH) -> dict[str, Any] | None:
    """The body if it is a chat completion with a message (a text completion with its
    text, for RAW_PATH), else None."""
    try:
        data = resp.json()
        choice = data["choices"][0]
        part = choice["text"] if path == RAW_PATH else choice["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    ok = isinstance(part, str) if path == RAW_PATH else isinstance(part, dict)
    return data if isinstance(data, dict) and ok else None


def retry_delay(n: int, backoff: float, max_wait: float, retry_after: float | None) -> float:
    """Exponential backoff with equal jitter; never shorter than the server's Retry-After."""
    base = min(max_wait, backoff * 2.0**n)
    wait = base / 2 + random.uniform(0, base / 2)
    if retry_after is not None:
        wait = max(wait, retry_after)
    return min(wait, max_wait)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either delay-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    delay: float = when.timestamp() - time.time()
    return max(0.0, delay)
