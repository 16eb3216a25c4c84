"""The openai backend against a real `python -m llama_cpp.server` serving the embedded model."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from synthmill.llm import Request, complete, complete_structured
from synthmill.llm.openai import OpenAIBackend
from synthmill.pipeline.stage import StageContext
from tests.llm.servers import MODEL_ALIAS
from tests.llm.stages import QA

pytestmark = [pytest.mark.server, pytest.mark.slow]


def _ask(text: str, seed: int) -> Request:
    return Request(messages=({"role": "user", "content": text},), max_tokens=64, seed=seed)


def test_detects_the_json_object_dialect(llama_server: str) -> None:
    backend = OpenAIBackend(model=MODEL_ALIAS, base_url=llama_server)

    async def probe() -> str:
        async with httpx.AsyncClient(base_url=llama_server, timeout=120) as client:
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
