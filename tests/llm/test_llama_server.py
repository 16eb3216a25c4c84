"""The openai backend against a real `python -m llama_cpp.server` serving the embedded model."""

from __future__ import annotations

import asyncio

import pytest

from synthmill.llm import Request, complete, complete_structured
from synthmill.llm.openai import OpenAIBackend
from synthmill.llm.transport import connect
from synthmill.pipeline.stage import StageContext
from tests.llm.servers import MODEL_ALIAS
from tests.llm.stages import QA

pytestmark = [pytest.mark.server, pytest.mark.slow]


def _ask(text: str, seed: int) -> Request:
    return Request(messages=({"role": "user", "content": text},), max_tokens=64, seed=seed)


def test_detects_the_json_object_dialect(llama_server: str) -> None:
    backend = OpenAIBackend(model=MODEL_ALIAS, base_url=llama_server)

    async def probe() -> object:
        async with connect(llama_server, timeout=120) as client:
            return await backend.dialect(client)

    assert asyncio.run(probe()) == "json_object"  # llama.cpp rejects json_schema with a 500


def test_structured_output_through_the_server(llama_server: str) -> None:
    backend = OpenAIBackend(model=MODEL_ALIAS, base_url=llama_server, concurrency=2)
    ctx = StageContext(seed=0, stage="t")
    requests = [_ask(f"Write a quiz question about topic {i} and its answer.", i) for i in (1, 2)]
    results = complete_structured(backend, requests, QA, ctx, retries=1)
    assert len(results) == 2
    assert all(r.ok or r.reason for r in results)
    assert any(r.ok for r in results)
    assert ctx.counters["llm.calls"] >= 2 and ctx.counters["llm.completion_tokens"] > 0
    assert results[0].provenance()["model"] == MODEL_ALIAS


def test_plain_text_is_deterministic_with_a_seed(llama_server: str) -> None:
    backend = OpenAIBackend(model=MODEL_ALIAS, base_url=llama_server, concurrency=2)
    first = complete(backend, [_ask("Name a fruit.", 5), _ask("Name a fruit.", 5)])
    assert first[0].error is None and first[0].text
    assert first[0].text == first[1].text


def _send(url: str, body: dict[str, object], unsupported: object = None) -> object:
    from synthmill.llm.retrying import Policy, send

    async def go() -> object:
        async with connect(url, timeout=120) as client:
            return await send(client, body, Policy(3, 0.05, 1.0), unsupported)  # type: ignore[arg-type]

    return asyncio.run(go())


def test_the_real_servers_answer_to_json_schema_is_unsupported_not_transient(
    llama_server: str,
) -> None:
    from synthmill.llm.openai import format_unsupported, response_format
    from synthmill.llm.retrying import Failure

    messages = [{"role": "user", "content": "hi"}]
    body = {"model": MODEL_ALIAS, "messages": messages, "max_tokens": 4}
    body["response_format"] = response_format("json_schema", {"type": "object"})
    failure = _send(llama_server, body, format_unsupported)
    assert isinstance(failure, Failure) and failure.status == 500
    assert failure.kind == "unsupported" and failure.attempts == 1
    bad = _send(llama_server, {"model": MODEL_ALIAS, "messages": "not a list"})
    assert isinstance(bad, Failure) and bad.kind == "rejected" and bad.attempts == 1


def test_transient_500s_before_the_real_server_do_not_downgrade_the_dialect(
    llama_server: str,
) -> None:
    from tests.llm.faults import PROBE, fault_server

    plan: dict[int | str, list[str]] = {PROBE: ["500", "500"]}
    accept = ("json_schema", "json_object")
    with fault_server(plan, accept=accept, upstream=llama_server) as proxy:
        backend = OpenAIBackend(model=MODEL_ALIAS, base_url=proxy.base_url, backoff=0.05)

        async def probe() -> object:
            async with connect(proxy.base_url, timeout=120) as client:
                return await backend.dialect(client)

        assert asyncio.run(probe()) == "json_object"  # not "prompt" after two plain 500s
        kinds = [b["response_format"]["type"] for b in proxy.bodies]
    assert kinds == ["json_schema"] * 3 + ["json_object"]
