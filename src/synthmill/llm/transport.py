"""One HTTP client and one event loop per process, shared by every batch, thread and stage.

Before, each batch opened its own client and event loop, so a stage's concurrency was a
batch's. Now every call of a process goes through one `Hub`: an asyncio loop in a daemon
thread with one aiohttp session (a single connection pool), and one `Limiter` per stage
(see limiter.py), found by the scope that calls.py sets around each backend call (run and
stage). Batches and threads of a stage therefore share one limit; a stage run on N
processes gives each process its share of the limits (they sum to the stage's), see
pipeline/executors.worker_share().

aiohttp rather than httpx: against a local server with 200 ms latency, httpx's connection
pool falls to ~50 requests/s at 256 in flight while aiohttp holds the limit (measured in
bench/client.py, bench/results/client.json).
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import json
import os
import threading
from collections.abc import AsyncIterator, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp

from synthmill.llm.limiter import Limiter, share

T = TypeVar("T")

# The stage a backend call is made for ("RUN/STAGE"), set by calls.complete().
scope: contextvars.ContextVar[str | None] = contextvars.ContextVar("synthmill_scope", default=None)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class Http:
    """What send() posts with: a session, a base URL, headers, a timeout and a limiter."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = 120.0,
        limiter: Limiter | None = None,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self.timeout = aiohttp.ClientTimeout(total=timeout, connect=timeout)
        self.limiter = limiter

    async def post(self, path: str, body: dict[str, Any]) -> Reply:
        url = self.base_url + path
        async with self.session.post(
            url, json=body, headers=self.headers, timeout=self.timeout
        ) as resp:
            data = await resp.read()
            headers = {k.lower(): v for k, v in resp.headers.items()}
            return Reply(resp.status, headers, data)


def new_session() -> aiohttp.ClientSession:
    """A session with an unbounded pool: the limiters, not the pool, cap what is in flight."""
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30)
    return aiohttp.ClientSession(connector=connector)


@asynccontextmanager
async def connect(
    base_url: str, timeout: float = 120.0, headers: Mapping[str, str] | None = None
) -> AsyncIterator[Http]:
    """An Http with its own session in the running loop, no limiter (probes, tests)."""
    async with new_session() as session:
        yield Http(session, base_url, headers, timeout)


class Hub:
    """This process's event loop thread, HTTP session and per-stage limiters."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, name="synthmill-http", daemon=True)
        self.thread.start()
        self.session: aiohttp.ClientSession = self.run(_open())
        # replies are handed to this thread to be cached (SQLite commits off the loop);
        # one thread: the cache's writes take turns under its lock anyway
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="synthmill-cache-writer")
        self.limiters: dict[str, Limiter] = {}
        self._lock = threading.Lock()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the hub's loop and wait for it (from any other thread)."""
        if threading.current_thread() is self.thread:
            coro.close()
            raise RuntimeError("Hub.run() called from the hub's own loop")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:  # Ctrl-C, SIGTERM: the batch's calls stop with it
            future.cancel()
            raise

    def limiter(
        self, key: str, max_in_flight: int, rpm: float | None, tpm: float | None
    ) -> Limiter:
        """The limiter of `key` (a stage), made on first use with this process's share."""
        with self._lock:
            found = self.limiters.get(key)
            if found is None:
                index, workers = _worker_share()
                cap = share(max_in_flight, workers, index) or 1.0
                found = Limiter(
                    max(1, int(cap)), share(rpm, workers, index), share(tpm, workers, index)
                )
                self.limiters[key] = found
            return found

    def close(self) -> None:
        if self.loop.is_closed():
            return
        try:
            self.run(self.session.close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)
            self.writer.shutdown(wait=True)


async def _open() -> aiohttp.ClientSession:
    return new_session()


_HUB: Hub | None = None
_HUB_LOCK = threading.Lock()


def hub() -> Hub:
    """This process's hub, started on first use (and again in a forked child)."""
    global _HUB
    with _HUB_LOCK:
        if _HUB is None or _HUB.pid != os.getpid():
            _HUB = Hub()
        return _HUB


@atexit.register
def _close_hub() -> None:
    with _HUB_LOCK:
        if _HUB is not None and _HUB.pid == os.getpid():
            _HUB.close()


def _worker_share() -> tuple[int, int]:
    from synthmill.pipeline.executors import worker_share

    return worker_share()
