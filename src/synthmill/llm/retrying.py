"""One POST to /chat/completions with retries: backoff with jitter, Retry-After honoured.

Each attempt first takes a slot from the stage's Limiter (when the Http has one) and gives
it back with its outcome: 429, 503 and timeouts are throttle signals that halve the
stage's allowed concurrency, and a Retry-After pauses the whole stage (limiter.py).

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

import aiohttp

from synthmill.llm.limiter import Limiter, Ticket
from synthmill.llm.redact import redact
from synthmill.llm.transport import Http, Reply

log = logging.getLogger(__name__)
PATH = "/chat/completions"
RAW_PATH = "/completions"  # raw text completions (Request.prompt): the reply has choices[0].text
ERROR_CHARS = 200  # of an error body kept in the reason (after redaction)
QUICK_RETRIES = 2  # for an unreachable server that has never answered: fail fast
QUICK_WAIT = 0.25

Kind = Literal["transient", "unreachable", "refused", "rejected", "unsupported"]
RETRY_STATUSES = frozenset({408, 409, 425, 429})
REFUSED_STATUSES = frozenset({401, 403, 404})
THROTTLE_STATUSES = frozenset({429, 503})  # with timeouts: the server is overloaded
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
    timeout: bool = False

    @property
    def retry(self) -> bool:
        return self.kind in ("transient", "unreachable")

    @property
    def throttled(self) -> bool:
        return self.timeout or self.status in THROTTLE_STATUSES


@dataclass
class Tally:
    """What one call cost on the wire, filled by send(): requests, 429s, throttles, seconds."""

    requests: int = 0
    status_429: int = 0
    throttled: int = 0
    seconds: float = 0.0

    def extra(self) -> dict[str, Any]:
        """The counts as Completion.extra (calls.account turns them into stage counters)."""
        return {
            "requests": self.requests,
            "status_429": self.status_429,
            "throttled": self.throttled,
            "wire_ms": round(self.seconds * 1000),
        }


@dataclass(frozen=True)
class Policy:
    """How hard to try: retries, backoff, and whether an unreachable server fails fast."""

    max_retries: int
    backoff: float
    max_wait: float
    fail_fast: bool = False  # unreachable: only QUICK_RETRIES short retries
    secrets: Sequence[str] = ()  # redacted from every error text


async def send(
    client: Http,
    body: dict[str, Any],
    policy: Policy,
    unsupported: Unsupported | None = None,
    path: str = PATH,
    tally: Tally | None = None,
    tokens: int = 0,
) -> dict[str, Any] | Failure:
    """The reply body, or a Failure after the retries its kind allows.

    `tokens` is the request's estimated token cost (for a tokens-per-minute budget);
    `tally` receives the requests made, 429s, throttles and seconds on the wire.
    """
    attempt = _Attempt(None)
    tally = tally if tally is not None else Tally()
    for n in range(policy.max_retries + 1):
        attempt = await _limited(client, body, policy.secrets, unsupported, path, tally, tokens)
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


async def _limited(
    client: Http,
    body: dict[str, Any],
    secrets: Sequence[str],
    unsupported: Unsupported | None,
    path: str,
    tally: Tally,
    tokens: int,
) -> _Attempt:
    """One attempt inside a slot of the stage's limiter, its outcome reported back."""
    limiter: Limiter | None = client.limiter
    ticket: Ticket | None = await limiter.acquire(tokens) if limiter is not None else None
    start = time.monotonic()
    try:
        attempt = await _try(client, body, secrets, unsupported, path)
    finally:
        seconds = time.monotonic() - start
        tally.requests += 1
        tally.seconds += seconds
    tally.status_429 += int(attempt.status == 429)
    tally.throttled += int(attempt.throttled)
    if limiter is not None and ticket is not None:
        outcome = "ok" if attempt.reply is not None else "error"
        outcome = "throttled" if attempt.throttled else outcome
        used = _used_tokens(attempt.reply)
        pause = attempt.retry_after if attempt.throttled else None  # the whole stage waits
        await limiter.release(ticket, outcome, pause, used)
    return attempt


def _used_tokens(reply: dict[str, Any] | None) -> int | None:
    usage = (reply or {}).get("usage") or {}
    try:
        return int(usage["prompt_tokens"]) + int(usage["completion_tokens"])
    except (KeyError, TypeError, ValueError):
        return None


async def _try(
    client: Http,
    body: dict[str, Any],
    secrets: Sequence[str],
    unsupported: Unsupported | None,
    path: str = PATH,
) -> _Attempt:
    try:
        resp = await client.post(path, body)
    except aiohttp.ConnectionTimeoutError:  # blackholed
        return _Attempt(None, "cannot connect (connect timeout)", "unreachable")
    except aiohttp.ClientConnectorError as exc:  # refused, DNS
        return _Attempt(None, f"cannot connect ({_why(exc)})", "unreachable")
    except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
        return _Attempt(None, "timeout", timeout=True)
    except (aiohttp.ClientError, OSError) as exc:  # reset, closed mid-response
        return _Attempt(None, f"connection error ({type(exc).__name__})")
    status = resp.status
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


def _chat_reply(resp: Reply, path: str = PATH) -> dict[str, Any] | None:
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
