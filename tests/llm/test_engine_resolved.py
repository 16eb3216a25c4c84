"""The llamacpp backend's resolved engine and how it keeps llama-server's slots busy.

Provenance, stats and the card name the engine that answered (server or python), never
`auto`; the prompt cache reuses a shared prefix without changing replies; a stage runs
enough batches at once to queue twice the server's slots. Real model, real llama-server.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from synthmill.llm import Request
from synthmill.llm import llamacpp as llamacpp_module
from synthmill.llm.llamacpp import LlamaCppBackend
from synthmill.llm.llamacpp_server import post
from synthmill.pipeline.executors import threads
from synthmill.pipeline.pipeline import Pipeline

SYSTEM = "You are a quiz writer. You write only the question, starting with What, Why or How."


def _pipeline(tmp_path: Path, engine: str) -> Pipeline:
    backend = {"type": "llamacpp", "n_threads": 1, "engine": engine, "parallel": 2}
    stage = {"use": "generate", "prompt": "Write a short question about the number {{ index }}."}
    stage |= {"output": "question", "max_tokens": 12, "keep_truncated": True, "backend": backend}
    config = {"name": "engine", "seed": 5, "stages": [{"use": "range", "n": 3}, stage]}
    return Pipeline.from_config({**config, "output": {"dir": str(tmp_path)}, "cache": False})


@pytest.mark.model
@pytest.mark.server
@pytest.mark.parametrize(("engine", "expected"), [("auto", "server"), ("python", "python")])
def test_rows_stats_and_card_name_the_engine_that_answered(
    tmp_path: Path, engine: str, expected: str
) -> None:
    result = _pipeline(tmp_path, engine).run()
    files = sorted((tmp_path / "data").glob("*.parquet"))
    rows = [row for f in files for row in pq.read_table(f).to_pylist()]
    assert len(rows) == 3
    assert {json.loads(r["_meta"]["params"])["engine"] for r in rows} == {expected}
    counters = result.stats["stages"]["generate"]["counters"]
    assert counters[f"llm.engine.{expected}"] == counters["llm.calls"] == 3
    assert not [k for k in counters if k.startswith("llm.engine.") and expected not in k]
    assert f"llm.engine.{expected}: 3" in (tmp_path / "README.md").read_text()


def test_batches_in_flight_queue_twice_the_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    server = LlamaCppBackend(engine="server", parallel=8)
    assert [server.batches_in_flight(b) for b in (1, 8, 16, 64)] == [16, 2, 1, 1]
    assert LlamaCppBackend(engine="python", parallel=8).batches_in_flight(1) == 1
    monkeypatch.setattr(llamacpp_module, "find_binary", lambda explicit=None: None)
    assert LlamaCppBackend(parallel=8).batches_in_flight(1) == 1  # auto without the binary


def test_a_stage_on_the_server_runs_that_many_batches_at_once() -> None:
    config = {"use": "generate", "prompt": "{{ index }}", "output": "x", "batch_size": 4}
    stage = Pipeline.from_config(
        {"name": "t", "stages": [{"use": "range", "n": 1}, config], "output": {"dir": "unused"}}
    ).stages[1]
    stage.backend = LlamaCppBackend(engine="server", parallel=8)  # type: ignore[attr-defined]
    assert threads(stage) == 4
    stage.backend = LlamaCppBackend(engine="python")  # type: ignore[attr-defined]
    assert threads(stage) == 1


@pytest.mark.model
@pytest.mark.server
def test_prompt_cache_reuses_a_shared_prefix_and_keeps_the_reply() -> None:
    """One slot: B after A (same system prompt) reuses A's prefix; B's reply is the one
    it gets after an unrelated prompt C (no shared prefix) all the same."""
    engine = LlamaCppBackend(n_threads=1, engine="server", parallel=1).server_engine()

    def ask(system: str, user: str) -> dict[str, object]:
        messages = ({"role": "system", "content": system}, {"role": "user", "content": user})
        path, body = engine.body(Request(messages=messages, max_tokens=16, seed=3), None)
        reply: dict[str, object] = post(engine.server, path, body).json()
        return reply

    ask("Reply in French only, and never use more than five words.", "Bonjour")  # C
    fresh = ask(SYSTEM, "Write a quiz question about tides.")  # B, no shared prefix
    ask(SYSTEM, "Write a quiz question about clouds.")  # A
    reused = ask(SYSTEM, "Write a quiz question about tides.")  # B again, after A
    timings = reused["timings"]
    usage = reused["usage"]
    assert isinstance(timings, dict) and isinstance(usage, dict)
    assert timings["prompt_n"] < usage["prompt_tokens"] // 2  # most of the prompt reused
    assert reused["choices"] == fresh["choices"]
