"""The embedded llama.cpp backend with the real SmolLM2 model (structure, not wording).

These pin `engine: python` (in-process); test_llamacpp_server.py covers the llama-server
engine, which the pipeline test below gets by default when setup.sh has built it.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from synthmill.llm import Request, complete, complete_structured, make_backend
from synthmill.llm.llamacpp import LlamaCppBackend, load_model
from synthmill.pipeline.pipeline import Output, Pipeline
from synthmill.pipeline.stage import StageContext
from synthmill.sources.range import Range
from tests.llm.stages import QA, AskQA

pytestmark = [pytest.mark.model, pytest.mark.slow]


def _ask(text: str, seed: int = 1) -> Request:
    return Request(messages=({"role": "user", "content": text},), max_tokens=64, seed=seed)


def test_loads_once_with_the_sigill_guard_and_threads() -> None:
    backend = LlamaCppBackend(n_threads=1, engine="python")
    model = load_model(backend.resolved_path(), backend.n_ctx, 1)
    assert model is load_model(backend.resolved_path(), backend.n_ctx, 1)
    assert model.llm.model_params.use_extra_bufts is False
    assert model.llm.context_params.n_threads == 1
    backend.complete([_ask("Hi", 0)])
    assert len(pickle.dumps(backend)) < 2000  # the model never travels with the backend


def test_same_seed_same_reply_and_tokens_counted() -> None:
    backend = LlamaCppBackend(n_threads=1, engine="python")
    ctx = StageContext(seed=0, stage="t")
    first, _other = complete(backend, [_ask("Name a fruit."), _ask("Name a color.")], ctx)
    again = complete(backend, [_ask("Name a fruit.")], ctx)[0]
    assert first.text and first.error is None
    assert again.text == first.text
    assert ctx.counters["llm.calls"] == 3 and ctx.counters["llm.completion_tokens"] > 0
    assert ctx.counters["llm.prompt_tokens"] >= 3 * 5


def test_json_schema_constrains_the_output() -> None:
    backend = LlamaCppBackend(n_threads=1, engine="python")
    requests = [_ask(f"Write a quiz question about topic {i} and its answer.", i) for i in (1, 2)]
    results = complete_structured(backend, requests, QA, retries=1)
    for res in results:
        assert res.ok or res.completion.finish_reason == "length", res.rejection()
        if res.ok:
            assert set(json.loads(res.raw)) == {"question", "answer"}
    assert any(res.ok for res in results)


def test_too_long_prompt_is_an_error_not_a_crash() -> None:
    backend = LlamaCppBackend(n_threads=1, n_ctx=128, engine="python")
    (res,) = backend.complete([_ask("word " * 400)])
    assert res.error is not None and res.error.startswith("llamacpp:")


def test_pipeline_rows_carry_provenance(tmp_path: Path) -> None:
    stage = AskQA(backend={"type": "llamacpp", "n_threads": 1}, max_tokens=80)
    pipe = Pipeline(name="qa", seed=3, stages=[Range(n=2), stage], output=Output(dir=tmp_path))
    pipe.run()
    rows = pq.read_table(next((tmp_path / "data").glob("*.parquet"))).to_pylist()
    rejects = list((tmp_path / "rejects").rglob("*.jsonl"))
    lines = [ln for f in rejects for ln in f.read_text().splitlines()]
    assert len(rows) + len(lines) == 2
    assert rows  # the schema grammar makes this seed's replies valid
    for row in rows:
        meta = row["_meta"]
        assert meta["model"] == make_backend(None).model_name
        assert meta["prompt_hash"] and meta["seed"] is not None and meta["origin"] == "synthetic"
        assert json.loads(meta["params"])["json_schema"] is True
