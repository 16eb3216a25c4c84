"""A real local HTTP server (stdlib, in a thread) that speaks /v1/chat/completions and
injects faults: 429 with and without Retry-After, 500s, hangs past the client's timeout,
dropped connections, bodies that are not JSON, replies that are not the JSON asked for
(no JSON, or valid JSON of the wrong schema), and 500s that echo the request headers.

Each request names its row in a message ("row 7"); `plan[row]` lists the action for that
row's 1st, 2nd, ... request (`plan["probe"]` for the structured-output probe, which names
no row); after the list runs out the row gets "ok". With `fault_rate`, any request of a
row without a plan gets a random fault (from FAULTS) with that probability. "ok" replies
are a minimal object valid against the request's JSON schema, or are forwarded to `upstream` (a real
server). Every 200 chat reply is recorded in `paid` by a hash of the request body.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

FAULTS = ("429", "429plain", "500", "timeout", "drop", "garbage", "badjson", "wrongschema")
ACTIONS = ("ok", *FAULTS)
PROBE = "probe"
Plan = dict[int | str, list[str]]


class FaultServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        plan: Plan,
        accept: tuple[str, ...] = ("json_object",),
        stall: float = 2.0,
        api_key: str | None = None,
        fault_rate: float = 0.0,
        seed: int = 0,
        delay: float = 0.0,
        upstream: str | None = None,
        port: int = 0,
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.plan = plan
        self.accept = accept  # response_format types it accepts; others get a 500 saying so
        self.stall = stall  # how long a "timeout" action hangs before closing
        self.api_key = api_key
        self.fault_rate = fault_rate
        self.rng = random.Random(seed)
        self.delay = delay  # seconds an "ok" reply takes, like a model generating
        self.upstream = upstream
        self.attempts: Counter[int | str] = Counter()
        self.log: list[tuple[int | None, str, float]] = []  # (row, action, time)
        self.bodies: list[dict[str, Any]] = []  # every request body, in arrival order
        self.paid: list[tuple[str, float]] = []  # (body hash, time sent) of each 200 reply
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def action(self, row: int | None) -> str:
        with self.lock:
            key: int | str = PROBE if row is None else row
            planned = key in self.plan  # a planned row follows its plan only
            if not planned and self.fault_rate and self.rng.random() < self.fault_rate:
                return self.rng.choice(FAULTS)
            n = self.attempts[key]
            self.attempts[key] += 1
            steps = self.plan.get(key, [])
            return steps[n] if n < len(steps) else "ok"

    def calls(self, row: int | None = None) -> int:
        return sum(1 for r, _, _ in self.log if row is None or r == row)

    def paid_twice(self) -> Counter[str]:
        """Request bodies answered with a 200 chat reply more than once."""
        counts = Counter(key for key, _ in self.paid)
        return Counter({k: n for k, n in counts.items() if n > 1})


class _Handler(BaseHTTPRequestHandler):
    server: FaultServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._send(200, {"object": "list", "data": [{"id": "m", "object": "model"}]})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        body = json.loads(raw)
        with self.server.lock:
            self.server.bodies.append(body)
        if (
            self.server.api_key
            and self.headers.get("Authorization") != f"Bearer {self.server.api_key}"
        ):
            self._send(401, {"error": "bad key"})
            return
        fmt = (body.get("response_format") or {}).get("type")
        if fmt is not None and fmt not in self.server.accept:
            self._send(500, {"error": f"response_format {fmt} not supported"})
            return
        row = _row(body["messages"])
        action = self.server.action(row)
        with self.server.lock:
            self.server.log.append((row, action, time.monotonic()))
        if action.startswith("s") and action[1:].isdigit():  # "s404": answer that status
            seen = self.headers.get("Authorization", "")  # echoed, as some servers do
            self._send(int(action[1:]), {"error": f"status {action[1:]}", "you_sent": seen})
        else:
            getattr(self, f"_{action}")(body, row)

    # ---- actions ---------------------------------------------------------------------
    def _ok(self, body: dict[str, Any], row: int | None) -> None:
        if self.server.delay:
            time.sleep(self.server.delay)
        if self.server.upstream:
            self._forward(body)
            return
        schema = _schema(body)
        content = instance(schema, row) if schema else {"question": f"row {row}", "answer": "yes"}
        self._reply(body, json.dumps(content))

    def _badjson(self, body: dict[str, Any], row: int | None) -> None:
        self._reply(body, "Sure, here you go: question row and answer yes")

    def _wrongschema(self, body: dict[str, Any], row: int | None) -> None:
        self._reply(body, json.dumps({"unexpected": [1, 2, 3]}))

    def _429(self, body: dict[str, Any], row: int | None) -> None:
        self._send(429, {"error": "rate limited"}, {"Retry-After": "1"})

    def _429plain(self, body: dict[str, Any], row: int | None) -> None:
        self._send(429, {"error": "rate limited, no hint"})

    def _500(self, body: dict[str, Any], row: int | None) -> None:
        self._send(500, {"error": "internal"})

    def _echo(self, body: dict[str, Any], row: int | None) -> None:
        """A 500 whose body echoes the request headers, Authorization included."""
        seen = self.headers.get("Authorization", "")
        echo = {"error": "upstream failed", "authorization": seen, "key": seen.split()[-1]}
        self._send(500, {**echo, "request_headers": dict(self.headers)})

    def _leak(self, body: dict[str, Any], row: int | None) -> None:
        """A 200 whose model output repeats the key it was sent."""
        key = self.headers.get("Authorization", "").split()[-1]
        self._reply(body, json.dumps({"question": f"row {row} {key}", "answer": key}))

    def _timeout(self, body: dict[str, Any], row: int | None) -> None:
        time.sleep(self.server.stall)  # the client gives up first
        self.close_connection = True

    def _drop(self, body: dict[str, Any], row: int | None) -> None:
        self.close_connection = True  # no status line: the client sees a broken connection

    def _garbage(self, body: dict[str, Any], row: int | None) -> None:
        self._raw(200, b'{"choices": [{"message": ')

    # ---- writing -----------------------------------------------------------------------
    def _forward(self, body: dict[str, Any]) -> None:
        assert self.server.upstream is not None
        resp = httpx.post(f"{self.server.upstream}/chat/completions", json=body, timeout=300)
        self._raw(resp.status_code, resp.content)
        if resp.status_code == 200:
            self._paid(body)

    def _reply(self, body: dict[str, Any], content: str) -> None:
        message = {"role": "assistant", "content": content}
        usage = {"prompt_tokens": 10, "completion_tokens": len(content.split())}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        data = {"object": "chat.completion", "choices": [choice], "usage": usage}
        if self._send(200, data):
            self._paid(body)

    def _paid(self, body: dict[str, Any]) -> None:
        with self.server.lock:
            self.server.paid.append((body_key(body), time.monotonic()))

    def _send(self, status: int, data: Any, headers: dict[str, str] | None = None) -> bool:
        return self._raw(status, json.dumps(data).encode(), headers)

    def _raw(self, status: int, blob: bytes, headers: dict[str, str] | None = None) -> bool:
        try:
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(blob)))
            self.end_headers()
            self.wfile.write(blob)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return False  # the client gave up (timeout): that is the point of the test
        return True


def body_key(body: dict[str, Any]) -> str:
    """A request's identity: the hash of its whole JSON body."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:24]


def _row(messages: list[dict[str, str]]) -> int | None:
    for message in messages:
        found = re.search(r"\brow (\d+)", str(message.get("content", "")))
        if found:
            return int(found.group(1))
    return None


def _schema(body: dict[str, Any]) -> dict[str, Any] | None:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return dict(fmt["json_schema"]["schema"])
    schema = fmt.get("schema")
    return dict(schema) if isinstance(schema, dict) else None


def instance(schema: dict[str, Any], row: int | None) -> Any:
    """A small value valid against a (simple) JSON schema, mentioning the row."""
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {name: instance(sub, row) for name, sub in props.items()}
    if kind == "array":
        return [instance(schema.get("items", {"type": "string"}), row)]
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return True
    text = f"answer for row {row}"
    return text[: int(schema.get("maxLength", len(text)))]


@contextmanager
def fault_server(plan: Plan, **options: Any) -> Iterator[FaultServer]:
    """Serve in a daemon thread for the duration of the block."""
    server = FaultServer(plan, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
