"""One POST to /chat/completions with retries: backoff with jitter, Retry-After honoured.

Retried: 429, 5xx, timeouts, broken connections, and 200s whose body is not a chat
completion. Other statuses (400, 401, 404...) fail at once: retrying cannot fix them.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)
PATH = "/chat/completions"


@dataclass(frozen=True)
class Failure:
    """Why a call failed after all its attempts (never contains request headers)."""

    error: str
    attempts: int
    status: int | None = None  # the last HTTP status, None for network errors


@dataclass(frozen=True)
class _Attempt:
    reply: dict[str, Any] | None
    error: str = ""
    retry: bool = False
    retry_after: float | None = None
    status: int | None = None


async def send(
    client: httpx.AsyncClient,
    body: dict[str, Any],
    max_retries: int,
    backoff: float,
    max_wait: float,
    no_retry: frozenset[int] = frozenset(),
) -> dict[str, Any] | Failure:
    """The reply body, or a Failure; statuses in `no_retry` fail at once (used by probes)."""
    attempt = _Attempt(None)
    for n in range(max_retries + 1):
        attempt = await _try(client, body, no_retry)
        if attempt.reply is not None:
            return attempt.reply
        if not attempt.retry or n == max_retries:
            return Failure(attempt.error, n + 1, attempt.status)
        wait = retry_delay(n, backoff, max_wait, attempt.retry_after)
        log.info("retrying in %.2fs after %s", wait, attempt.error)
        await asyncio.sleep(wait)
    return Failure(attempt.error, max_retries + 1, attempt.status)


async def _try(
    client: httpx.AsyncClient, body: dict[str, Any], no_retry: frozenset[int]
) -> _Attempt:
    try:
        resp = await client.post(PATH, json=body)
    except httpx.TimeoutException:
        return _Attempt(None, "timeout", retry=True)
    except httpx.TransportError as exc:  # refused, reset, closed mid-response
        return _Attempt(None, f"connection error ({type(exc).__name__})", retry=True)
    status = resp.status_code
    if status == 200:
        reply = _chat_reply(resp)
        error = "" if reply else "malformed response body"
        return _Attempt(reply, error, retry=reply is None, status=status)
    error = f"HTTP {status}: {resp.text[:200]}"
    retry = (status == 429 or status >= 500) and status not in no_retry
    return _Attempt(None, error, retry, parse_retry_after(resp.headers.get("retry-after")), status)


def _chat_reply(resp: httpx.Response) -> dict[str, Any] | None:
    """The body if it is a chat completion with a message, else None."""
    try:
        data = resp.json()
        message = data["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return data if isinstance(data, dict) and isinstance(message, dict) else None


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
