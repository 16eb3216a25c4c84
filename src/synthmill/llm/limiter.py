"""How many requests a stage may have in flight, and how fast: AIMD plus optional rate limits.

One `Limiter` per stage and process is shared by every batch and thread of the stage (see
transport.py). Before each HTTP request it waits for

- a free slot: at most `allowed` requests in flight, where `allowed` starts at the stage's
  `max_in_flight` and follows AIMD: a throttle signal (429, 503, a timeout) halves it, at
  most once per window (a request sent before the last cut cannot cut again), and it grows
  by one per window of successes, i.e. by 1/allowed per success, +1 per round trip at full
  use (TCP's congestion avoidance; +1 per single success would double it every round trip
  and overrun a small server again at once);
- the server's Retry-After: one 429 with Retry-After pauses every request of the stage,
  not only the one that got it;
- optional requests-per-minute and tokens-per-minute budgets (token buckets holding one
  second of budget, so a run starts at the full rate without a burst of a minute's worth).

The AIMD arithmetic is in `Aimd` (plain, clock-free, unit-tested); `Limiter` adds the waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass
class Aimd:
    """Additive increase, multiplicative decrease of the allowed concurrency."""

    ceiling: int
    limit: float = 0.0
    floor: int = 1
    epoch: int = 0  # bumped at each cut; requests remember the epoch they were sent in
    cuts: int = 0

    def __post_init__(self) -> None:
        self.limit = float(self.ceiling) if self.limit <= 0 else min(self.limit, self.ceiling)

    @property
    def allowed(self) -> int:
        return max(self.floor, min(self.ceiling, int(self.limit)))

    def success(self) -> None:
        """+1 per window of successes (1/allowed each), never above the ceiling."""
        self.limit = min(float(self.ceiling), self.limit + 1.0 / max(self.limit, 1.0))

    def throttled(self, sent_epoch: int) -> bool:
        """Halve, unless the request was sent before the last cut (one cut per window)."""
        if sent_epoch < self.epoch:
            return False
        self.limit = max(float(self.floor), self.limit / 2.0)
        self.epoch += 1
        self.cuts += 1
        return True


@dataclass
class Bucket:
    """A token bucket: `rate` per second, holding at most `size` (one second's worth)."""

    rate: float
    size: float
    level: float = 0.0
    at: float = 0.0

    @classmethod
    def per_minute(cls, per_minute: float, now: float) -> Bucket:
        rate = per_minute / 60.0
        size = max(1.0, rate)
        return cls(rate, size, size, now)

    def _fill(self, now: float) -> None:
        self.level = min(self.size, self.level + (now - self.at) * self.rate)
        self.at = now

    def delay(self, amount: float, now: float) -> float:
        """Seconds until `amount` fits (a request bigger than the bucket waits for a full one)."""
        self._fill(now)
        need = min(amount, self.size) - self.level
        return 0.0 if need <= 0 else need / self.rate

    def take(self, amount: float, now: float) -> None:
        self._fill(now)
        self.level -= amount  # may go below zero: a big request leaves a debt

    def give(self, amount: float) -> None:
        self.level = min(self.size, self.level + amount)


@dataclass
class Ticket:
    """One admitted request: when and in which AIMD epoch it was sent, its token estimate."""

    epoch: int
    tokens: int
    start: float


@dataclass
class LimiterStats:
    requests: int = 0
    throttled: int = 0  # answers that cut the concurrency: 429, 503, timeouts
    busy: float = 0.0  # request-seconds on the wire (for effective concurrency)
    peak: int = 0


class Limiter:
    """Admission for one stage in one process (its share of the stage's limits)."""

    def __init__(
        self,
        max_in_flight: int,
        rpm: float | None = None,
        tpm: float | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.aimd = Aimd(max(1, max_in_flight))
        self.clock = clock
        now = clock()
        self.requests = Bucket.per_minute(rpm, now) if rpm else None
        self.tokens = Bucket.per_minute(tpm, now) if tpm else None
        self.paused_until = 0.0
        self.in_flight = 0
        self.stats = LimiterStats()
        self._cond: asyncio.Condition | None = None

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:  # made inside the event loop that uses it
            self._cond = asyncio.Condition()
        return self._cond

    def delay(self, tokens: int) -> float:
        """Seconds until the Retry-After pause and the rate budgets let one more go."""
        now = self.clock()
        waits = [self.paused_until - now]
        if self.requests is not None:
            waits.append(self.requests.delay(1, now))
        if self.tokens is not None:
            waits.append(self.tokens.delay(tokens, now))
        return max(0.0, *waits)

    async def acquire(self, tokens: int = 0) -> Ticket:
        """Wait for a slot under the current AIMD limit, the pause and the budgets."""
        cond = self._condition()
        async with cond:
            while True:
                wait = self.delay(tokens)
                if wait <= 0 and self.in_flight < self.aimd.allowed:
                    break
                await _wait(cond, wait if wait > 0 else None)
            return self._admit(tokens)

    def _admit(self, tokens: int) -> Ticket:
        now = self.clock()
        if self.requests is not None:
            self.requests.take(1, now)
        if self.tokens is not None:
            self.tokens.take(tokens, now)
        self.in_flight += 1
        self.stats.requests += 1
        self.stats.peak = max(self.stats.peak, self.in_flight)
        return Ticket(self.aimd.epoch, tokens, now)

    async def release(
        self,
        ticket: Ticket,
        outcome: str,
        retry_after: float | None = None,
        used_tokens: int | None = None,
    ) -> None:
        """Free the slot; outcome is "ok", "throttled" (429/503/timeout) or "error"."""
        cond = self._condition()
        async with cond:
            self._settle(ticket, outcome, retry_after, used_tokens)
            room = self.aimd.allowed - self.in_flight
            if room > 0:
                cond.notify(room)

    def _settle(
        self, ticket: Ticket, outcome: str, retry_after: float | None, used: int | None
    ) -> None:
        now = self.clock()
        self.in_flight -= 1
        self.stats.busy += now - ticket.start
        if outcome == "ok":
            self.aimd.success()
        elif outcome == "throttled":
            self.stats.throttled += 1
            self.aimd.throttled(ticket.epoch)
        if retry_after:
            self.paused_until = max(self.paused_until, now + retry_after)
        if self.tokens is not None and used is not None:
            self.tokens.give(ticket.tokens - used)  # correct the estimate (negative: a debt)


async def _wait(cond: asyncio.Condition, timeout: float | None) -> None:
    """cond.wait() for at most `timeout` seconds (the lock is held again on return)."""
    if timeout is None:
        await cond.wait()
        return
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(cond.wait(), timeout)


def share(total: float | None, workers: int, index: int) -> float | None:
    """Worker `index`'s part of a stage-wide limit, so the parts sum to `total`."""
    if total is None:
        return None
    if float(total).is_integer():
        whole = int(total)
        return float(whole // workers + (1 if index < whole % workers else 0))
    return total / workers


def estimate_tokens(chars: int, max_tokens: int) -> int:
    """A request's token cost before it is sent: ~4 characters per prompt token + max_tokens."""
    return math.ceil(chars / 4) + max_tokens
