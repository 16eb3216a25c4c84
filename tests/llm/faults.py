"""A real local HTTP server (stdlib, in a thread) that speaks /v1/chat/completions and
injects faults: 429 with Retry-After, 500s, timeouts, dropped connections, bodies that
are not JSON, and replies whose content is not the JSON asked for.

Each request names its row in the first user message ("row 7"); `plan[row]` lists the
action for that row's 1st, 2nd, ... request; after the list runs out the row gets "ok".
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACTIONS = ("ok", "429", "500", "timeout", "drop", "garbage", "badjson")


class FaultServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        plan: dict[int, list[str]],
        accept: tuple[str, ...] = ("json_object",),
        stall: float = 2.0,
        api_key: str | None = None,
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.plan = plan
        self.accept = accept  # response_format types it accepts; others get a 500
        self.stall = stall  # how long a "timeout" action sleeps before answering
        self.api_key = api_key
        self.attempts: Counter[int] = Counter()
        self.log: list[tuple[int | None, str, float]] = []  # (row, action, time)
        self.bodies: list[dict[str, Any]] = []  # every request body, in arrival order
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def action(self, row: int | None) -> str:
        with self.lock:
            if row is None:
                return "ok"
            n = self.attempts[row]
            self.attempts[row] += 1
            steps = self.plan.get(row, [])
            return steps[n] if n < len(steps) else "ok"

    def calls(self, row: int | None = None) -> int:
        return sum(1 for r, _, _ in self.log if row is None or r == row)


class _Handler(BaseHTTPRequestHandler):
    server: FaultServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.bodies.append(body)
        if (
            self.server.api_key
            and self.headers.get("Authorization") != f"Bearer {self.server.api_key}"
        ):
            return self._send(401, {"error": "bad key"})
        fmt = (body.get("response_format") or {}).get("type")
        if fmt is not None and fmt not in self.server.accept:
            return self._send(500, {"error": f"response_format {fmt} not supported"})
        row = _row(body["messages"])
        action = self.server.action(row)
        with self.server.lock:
            self.server.log.append((row, action, time.monotonic()))
        getattr(self, f"_{action}")(body, row)

    def _ok(self, body: dict[str, Any], row: int | None) -> None:
        content = {"ok": True} if row is None else {"question": f"row {row}", "answer": "yes"}
        self._reply(json.dumps(content))

    def _badjson(self, body: dict[str, Any], row: int | None) -> None:
        self._reply("Sure, here you go: question row and answer yes")

    def _429(self, body: dict[str, Any], row: int | None) -> None:
        self._send(429, {"error": "rate limited"}, {"Retry-After": "1"})

    def _500(self, body: dict[str, Any], row: int | None) -> None:
        self._send(500, {"error": "internal"})

    def _timeout(self, body: dict[str, Any], row: int | None) -> None:
        time.sleep(self.server.stall)
        self._ok(body, row)

    def _drop(self, body: dict[str, Any], row: int | None) -> None:
        self.close_connection = True  # no status line: the client sees a broken connection

    def _garbage(self, body: dict[str, Any], row: int | None) -> None:
        self._raw(200, b'{"choices": [{"message": ')

    def _reply(self, content: str) -> None:
        message = {"role": "assistant", "content": content}
        usage = {"prompt_tokens": 10, "completion_tokens": len(content.split())}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        self._send(200, {"object": "chat.completion", "choices": [choice], "usage": usage})

    def _send(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._raw(status, json.dumps(data).encode(), headers)

    def _raw(self, status: int, blob: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(blob)))
            self.end_headers()
            self.wfile.write(blob)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): that is the point of the test


def _row(messages: list[dict[str, str]]) -> int | None:
    found = re.search(r"\brow (\d+)", messages[0]["content"])
    return int(found.group(1)) if found else None


@contextmanager
def fault_server(plan: dict[int, list[str]], **options: Any) -> Iterator[FaultServer]:
    """Serve in a daemon thread for the duration of the block."""
    server = FaultServer(plan, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
