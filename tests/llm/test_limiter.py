"""The AIMD, rate-budget and share arithmetic of limiter.py, and its waiting (no server)."""

from __future__ import annotations

import asyncio
import time

import pytest

from synthmill.llm.limiter import Aimd, Bucket, Limiter, estimate_tokens, share


def test_aimd_starts_at_the_ceiling_and_halves_once_per_window() -> None:
    aimd = Aimd(64)
    assert aimd.allowed == 64
    sent = aimd.epoch
    assert aimd.throttled(sent) and aimd.allowed == 32
    # the other requests sent under the old limit get 429s too: no second cut for them
    assert not aimd.throttled(sent) and aimd.allowed == 32
    assert aimd.throttled(aimd.epoch) and aimd.allowed == 16
    assert aimd.cuts == 2


def test_aimd_never_goes_below_one_or_above_the_ceiling() -> None:
    aimd = Aimd(4)
    for _ in range(10):
        aimd.throttled(aimd.epoch)
    assert aimd.allowed == 1
    for _ in range(1000):
        aimd.success()
    assert aimd.allowed == 4 and aimd.limit == 4.0


def test_aimd_grows_by_one_per_window_of_successes() -> None:
    aimd = Aimd(100)
    aimd.throttled(aimd.epoch)  # 50
    for _ in range(50):  # one window at 50 in flight
        aimd.success()
    assert 50.9 < aimd.limit < 51.1
    for _ in range(51):
        aimd.success()
    assert 51.9 < aimd.limit < 52.1


def test_the_shares_of_the_processes_sum_to_the_stage_limit() -> None:
    assert [share(10, 3, i) for i in range(3)] == [4.0, 3.0, 3.0]
    assert sum(share(64, 5, i) or 0 for i in range(5)) == 64
    assert share(None, 4, 0) is None
    assert [share(90.0, 4, i) for i in range(4)] == [23.0, 23.0, 22.0, 22.0]
    assert sum(share(100.5, 2, i) or 0 for i in range(2)) == pytest.approx(100.5)


def test_bucket_spaces_requests_to_the_rate() -> None:
    bucket = Bucket.per_minute(120, now=0.0)  # 2 per second, holds 2
    assert bucket.delay(1, 0.0) == 0.0
    bucket.take(1, 0.0)
    bucket.take(1, 0.0)
    assert bucket.delay(1, 0.0) == pytest.approx(0.5)
    assert bucket.delay(1, 0.5) == pytest.approx(0.0)
    big = Bucket.per_minute(600, now=0.0)  # tokens: 10 per second
    big.take(25, 0.0)  # a request bigger than the bucket leaves a debt
    assert big.delay(5, 0.0) == pytest.approx(2.0)
    assert estimate_tokens(400, 50) == 150


def test_limiter_admits_no_more_than_allowed_and_wakes_on_release() -> None:
    async def go() -> list[int]:
        limiter = Limiter(3)
        seen: list[int] = []

        async def one() -> None:
            ticket = await limiter.acquire()
            seen.append(limiter.in_flight)
            await asyncio.sleep(0.02)
            await limiter.release(ticket, "ok")

        await asyncio.gather(*(one() for _ in range(12)))
        assert limiter.in_flight == 0 and limiter.stats.requests == 12
        return seen

    seen = asyncio.run(go())
    assert max(seen) == 3


def test_a_throttle_halves_and_retry_after_pauses_every_request() -> None:
    async def go() -> tuple[float, int]:
        limiter = Limiter(8)
        first = await limiter.acquire()
        await limiter.release(first, "throttled", retry_after=0.3)
        assert limiter.aimd.allowed == 4
        start = time.monotonic()
        second = await limiter.acquire()
        waited = time.monotonic() - start
        await limiter.release(second, "ok")
        return waited, limiter.stats.throttled

    waited, throttled = asyncio.run(go())
    assert waited >= 0.28 and throttled == 1


def test_requests_per_minute_spaces_the_calls() -> None:
    async def go() -> float:
        limiter = Limiter(100, rpm=600)  # 10 per second, a burst of 10
        start = time.monotonic()
        for _ in range(15):
            await limiter.release(await limiter.acquire(), "ok")
        return time.monotonic() - start

    assert 0.4 <= asyncio.run(go()) < 2.0
