"""A local OpenAI-compatible server (aiohttp) with a fixed latency and an optional cap.

It answers /v1/chat/completions and /v1/completions after `latency` seconds, with any
number of requests in flight, or at most `max_concurrent` of them: beyond that it answers
429 at once (with `Retry-After` when `retry_after` is set), as a rate-limited API does.
Replies are deterministic (a function of the request): a JSON object valid against the
request's schema when it asks for one, else a short text. GET /stats returns what it saw:
requests by status, the peak of concurrent requests, (time, status) of each answer, and
the CPU seconds its process has used (to tell whether the server or the client is short).

    python -m bench.mock_server --port 8123 --latency 0.2 [--max-concurrent 8]

Used by bench/client.py (as a subprocess, so it does not share the client's GIL) and by
tests/llm/test_shared_client.py (in a thread).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

Reply = Callable[[dict[str, Any]], str]


def default_reply(body: dict[str, Any]) -> str:
    """A deterministic reply: schema instance for a JSON request, else a short text."""
    fmt = body.get("response_format") or {}
    schema = fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema")
    seed = json.dumps([body.get("messages"), body.get("prompt")], sort_keys=True)
    tag = hashlib.sha256(seed.encode()).hexdigest()[:8]
    if isinstance(schema, dict):
        return json.dumps(instance(schema, tag))
    return f"reply {tag}"


def instance(schema: dict[str, Any], tag: str) -> Any:
    """A small value valid against a simple JSON schema."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {k: instance(v, tag) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [instance(schema.get("items", {"type": "string"}), tag)]
    if kind in ("integer", "number"):
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "boolean":
        return True
    return f"text {tag}"[: int(schema.get("maxLength", 64))]


class MockServer:
    def __init__(
        self,
        latency: float = 0.2,
        max_concurrent: int = 0,
        retry_after: float | None = None,
        reply: Reply = default_reply,
    ) -> None:
        self.latency = latency
        self.max_concurrent = max_concurrent
        self.retry_after = retry_after
        self.reply = reply
        self.in_flight = 0
        self.peak = 0
        self.statuses: Counter[int] = Counter()
        self.log: list[tuple[float, int]] = []  # (monotonic time, status) of each answer
        self.arrivals: list[float] = []  # monotonic time each request came in
        self.bodies: list[dict[str, Any]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/v1/completions", self.raw)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/stats", self.stats)
        return app

    async def chat(self, request: web.Request) -> web.Response:
        return await self._answer(request, raw=False)

    async def raw(self, request: web.Request) -> web.Response:
        return await self._answer(request, raw=True)

    async def _answer(self, request: web.Request, raw: bool) -> web.Response:
        self.arrivals.append(time.monotonic())
        body = await request.json()
        self.bodies.append(body)
        if self.max_concurrent and self.in_flight >= self.max_concurrent:
            return self._status(429, {"error": {"message": "too many requests"}})
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        text = self.reply(body)
        choice: dict[str, Any] = {"index": 0, "finish_reason": "stop"}
        if raw:
            choice["text"] = text
        else:
            choice["message"] = {"role": "assistant", "content": text}
        words = len(text.split())
        usage = {"prompt_tokens": 10, "completion_tokens": words, "total_tokens": 10 + words}
        obj = "text_completion" if raw else "chat.completion"
        data = {"id": "x", "object": obj, "model": body.get("model"), "choices": [choice]}
        return self._status(200, {**data, "usage": usage})

    def _status(self, status: int, data: dict[str, Any]) -> web.Response:
        self.statuses[status] += 1
        self.log.append((time.monotonic(), status))
        headers = (
            {"Retry-After": f"{self.retry_after:g}"} if status == 429 and self.retry_after else {}
        )
        return web.json_response(data, status=status, headers=headers)

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "mock", "object": "model"}]})

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.summary())

    def summary(self) -> dict[str, Any]:
        start = self.log[0][0] if self.log else 0.0
        return {
            "cpu_seconds": round(time.process_time(), 3),  # the server's own CPU so far
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "peak_in_flight": self.peak,
            "log": [(round(t - start, 4), s) for t, s in self.log],
        }


@contextmanager
def serve_in_thread(server: MockServer, port: int = 0) -> Iterator[str]:
    """Run `server` on 127.0.0.1 in a daemon thread; yield its base URL (…/v1)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        runner = web.AppRunner(server.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
        await site.start()
        holder["runner"] = runner
        holder["port"] = runner.addresses[0][1]

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield f"http://127.0.0.1:{holder['port']}/v1"
    finally:
        asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--max-concurrent", type=int, default=0)
    parser.add_argument("--retry-after", type=float, default=None)
    args = parser.parse_args()
    server = MockServer(args.latency, args.max_concurrent, args.retry_after)
    web.run_app(
        server.app(), host="127.0.0.1", port=args.port, access_log=None, print=None, backlog=2048
    )


if __name__ == "__main__":
    main()
