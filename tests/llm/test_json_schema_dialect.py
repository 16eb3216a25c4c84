"""OpenAI's `json_schema` dialect against a real model (issue 19: it was tested only with
fake servers).

No server that speaks `json_schema` runs here (llama_cpp.server answers it with a 500),
so a strict gateway sits in front of the real `python -m llama_cpp.server`: it accepts
only OpenAI's form (`{"type": "json_schema", "json_schema": {"name", "schema",
"strict"?}}`, refusing `json_object` with a 400 as a json_schema-only API would), checks
it, and passes the same schema to the real server as its grammar. What is tested is that
synthmill picks the dialect, sends well-formed requests, and that the real model's
grammar-constrained replies come back validated into rows.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from synthmill import Pipeline
from synthmill.io.records_io import read_records
from tests.llm.servers import MODEL_ALIAS

pytestmark = [pytest.mark.server, pytest.mark.slow]
NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass
class Seen:
    formats: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def openai_problem(fmt: Any) -> str:
    """What is wrong with a response_format by OpenAI's json_schema rules, or ""."""
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return f"only json_schema is supported, got {fmt!r}"
    spec = fmt.get("json_schema")
    if not isinstance(spec, dict) or set(spec) - {"name", "schema", "strict", "description"}:
        return f"json_schema must be an object of name, schema, strict: {spec!r}"
    if not isinstance(spec.get("name"), str) or not NAME.match(spec["name"]):
        return f"json_schema.name must match {NAME.pattern}"
    if not isinstance(spec.get("schema"), dict) or spec["schema"].get("type") != "object":
        return "json_schema.schema must be a JSON schema of an object"
    if "strict" in spec and not isinstance(spec["strict"], bool):
        return "json_schema.strict must be a boolean"
    return ""


@contextmanager
def gateway(upstream: str) -> Iterator[tuple[str, Seen]]:
    seen = Seen()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            resp = httpx.get(upstream + self.path.removeprefix("/v1"), timeout=60)
            self._send(resp.status_code, resp.content)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fmt = body.get("response_format")
            if fmt is not None:
                seen.formats.append(str(fmt.get("type")))
                problem = openai_problem(fmt)
                if problem:
                    seen.problems.append(problem)
                    error = {"error": {"message": problem, "param": "response_format"}}
                    self._send(400, json.dumps(error).encode())
                    return
                body["response_format"] = {
                    "type": "json_object",
                    "schema": fmt["json_schema"]["schema"],
                }
            resp = httpx.post(f"{upstream}/chat/completions", json=body, timeout=300)
            self._send(resp.status_code, resp.content)

        def _send(self, status: int, blob: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(blob)))
            self.end_headers()
            self.wfile.write(blob)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    finally:
        server.shutdown()
        server.server_close()


def test_generate_with_a_schema_through_the_json_schema_dialect(
    llama_server: str, tmp_path: Path
) -> None:
    with gateway(llama_server) as (url, seen):
        config = {
            "name": "js",
            "seed": 4,
            "stages": [
                {"use": "sample", "n": 3, "columns": {"topic": ["rain", "bread", "owls"]}},
                {
                    "use": "generate",
                    "prompt": "Write one short fact about {{ topic }}.",
                    "schema": {"fact": {"type": "string", "maxLength": 120}},
                    "max_tokens": 60,
                    "backend": {"type": "openai", "base_url": url, "model": MODEL_ALIAS,
                                "structured": "auto", "concurrency": 1},
                },
            ],
            "output": {"dir": str(tmp_path / "out")},
        }  # fmt: skip
        result = Pipeline.from_config(config).run()
    assert seen.problems == []
    assert seen.formats and set(seen.formats) == {"json_schema"}, seen.formats
    rows = [r for f in sorted((result.root / "data").glob("*.parquet")) for r in read_records(f)]
    counters = result.stats["stages"]["generate"]["counters"]
    assert counters["llm.calls"] >= 3
    assert rows, "the grammar-constrained replies of the real model parse into rows"
    for r in rows:
        assert isinstance(r.data["fact"], str) and r.data["fact"].strip()
        assert len(r.data["fact"]) <= 120 and r.meta.model == MODEL_ALIAS


def test_the_gateway_refuses_other_forms(llama_server: str) -> None:
    """The control: the gateway is strict, so the test above cannot pass on another form."""
    with gateway(llama_server) as (url, seen):
        for fmt in (
            {"type": "json_object", "schema": {"type": "object"}},
            {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}},
            {"type": "json_schema", "json_schema": {"name": "a b", "schema": {"type": "object"}}},
        ):
            body = {"model": MODEL_ALIAS, "messages": [{"role": "user", "content": "hi"}],
                    "max_tokens": 4, "response_format": fmt}  # fmt: skip
            assert httpx.post(f"{url}/chat/completions", json=body, timeout=60).status_code == 400
    assert len(seen.problems) == 3
