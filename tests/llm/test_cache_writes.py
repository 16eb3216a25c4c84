"""The openai backend hands each reply to one writer thread to be cached, off the loop.

Against a real local aiohttp server: every reply's callback (the cache write) has run, on
the hub's writer thread, before the batch returns, and a failing write fails the batch.
"""

from __future__ import annotations

import threading
import time

import pytest
from bench.mock_server import MockServer, serve_in_thread

from synthmill.llm import Request
from synthmill.llm.base import Completion
from synthmill.llm.openai import OpenAIBackend


def _requests(n: int) -> list[Request]:
    return [Request(messages=({"role": "user", "content": f"row {i}"},)) for i in range(n)]


def test_every_reply_is_written_on_the_writer_thread_before_the_batch_returns() -> None:
    seen: list[tuple[int, str, str]] = []

    def on_done(i: int, completion: Completion) -> None:
        time.sleep(0.005)  # a slow commit: the batch still waits for it
        seen.append((i, completion.text, threading.current_thread().name))

    with serve_in_thread(MockServer(latency=0.02)) as url:
        out = OpenAIBackend(model="mock", base_url=url).complete_each(_requests(20), on_done)
    assert len(seen) == 20 and sorted(i for i, _, _ in seen) == list(range(20))
    assert {i: text for i, text, _ in seen} == {i: c.text for i, c in enumerate(out)}
    assert {name.rsplit("_", 1)[0] for _, _, name in seen} == {"synthmill-cache-writer"}


def test_a_failing_write_fails_the_batch() -> None:
    def broken(i: int, completion: Completion) -> None:
        raise OSError("database or disk is full")

    with serve_in_thread(MockServer(latency=0.01)) as url:
        backend = OpenAIBackend(model="mock", base_url=url)
        with pytest.raises(OSError, match="disk is full"):
            backend.complete_each(_requests(3), broken)
