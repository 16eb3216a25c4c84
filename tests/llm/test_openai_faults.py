"""The openai backend against a real local HTTP server that injects faults.

Every row ends either kept or in rejects with a reason; none is lost.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from synthmill.errors import ConfigError
from synthmill.llm import Request, complete_structured
from synthmill.llm.openai import OpenAIBackend
from synthmill.llm.retrying import parse_retry_after, retry_delay
from synthmill.llm.transport import connect
from synthmill.pipeline.pipeline import Output, Pipeline
from synthmill.sources.range import Range
from tests.llm.faults import ACTIONS, FaultServer, fault_server
from tests.llm.stages import QA, AskQA

PLAN: dict[int | str, list[str]] = {
    1: ["429", "ok"],
    2: ["500", "500", "ok"],
    3: ["timeout", "ok"],
    4: ["drop", "ok"],
    5: ["garbage", "ok"],
    6: ["badjson", "ok"],  # fixed by feeding the error back
    7: ["500"] * 10,  # never answers: rejected as a failed call
    8: ["badjson"] * 10,  # never valid: rejected as invalid json
    9: ["429plain", "ok"],  # no Retry-After: exponential backoff
    10: ["wrongschema", "ok"],  # valid JSON, wrong fields: fixed by feeding the error back
}
N = 12


def backend(server: FaultServer, **options: object) -> OpenAIBackend:
    fast = {"timeout": 1.0, "backoff": 0.05, "max_retries": 3, "max_wait": 5.0}
    return OpenAIBackend(model="m", base_url=server.base_url, **{**fast, **options})


def run(
    server: FaultServer,
    out: Path,
    n: int = N,
    cache: bool = True,
    share: float = 0.05,
    **options: object,
) -> Path:
    stage = AskQA(backend=backend(server, **options), batch_size=6)
    stages = [Range(n=n), stage]
    pipe = Pipeline(name="faults", stages=stages, output=Output(dir=out), cache=cache)
    pipe.model_copy(update={"max_failed_share": share}).run()
    return out


Rows = list[dict[str, Any]]


def read_run(root: Path) -> tuple[Rows, Rows, dict[str, Any]]:
    kept = [
        row
        for f in sorted((root / "data").glob("*.parquet"))
        for row in pq.read_table(f).to_pylist()
    ]
    rejects = [
        json.loads(line)
        for f in sorted((root / "rejects").rglob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]
    stats = json.loads((root / "stats.json").read_text())
    return kept, rejects, stats


@pytest.mark.slow
def test_every_row_is_kept_or_rejected_with_a_reason(tmp_path: Path) -> None:
    with fault_server(PLAN) as server:
        kept, rejects, stats = read_run(run(server, tmp_path / "run", share=0.1))
        gaps = [t for row, _, t in server.log if row == 1]
        served = {action for _, action, _ in server.log}
    assert served == set(ACTIONS)  # each fault was really injected
    assert len(kept) + len(rejects) == N
    reasons = {r["row"]["index"]: r["reason"] for r in rejects}
    assert reasons == {7: "llm call failed", 8: "invalid json"}
    transient = {r["row"]["index"]: r["raw"].get("transient", False) for r in rejects}
    assert transient == {7: True, 8: False}  # a failed call is retried next run; bad JSON not
    assert all(r["raw"]["output"] is not None and r["raw"]["error"] for r in rejects)
    assert (
        "HTTP 500" in next(r for r in rejects if r["reason"] == "llm call failed")["raw"]["error"]
    )
    assert sorted(int(str(k["question"]).split()[-1]) for k in kept) == [
        i for i in range(N) if i not in (7, 8)
    ]
    assert gaps[1] - gaps[0] >= 0.95  # waited for Retry-After: 1
    counters = stats["stages"]["test.ask_qa"]["counters"]
    assert counters["structured.ok_after_retry"] == 2
    assert counters["structured.failed"] == 2
    assert counters["structured.ok_first_try"] == N - 4
    assert counters["llm.failures"] == 1 and counters["llm.transient_failures"] == 1
    assert stats["stages"]["test.ask_qa"]["rejected_transient"] == 1


def test_structured_dialects_fall_back_to_the_prompt() -> None:
    requests = [Request(messages=({"role": "user", "content": f"row {i}"},)) for i in range(3)]
    with fault_server({}, accept=()) as server:
        results = complete_structured(backend(server), requests, QA)
        probes, calls = server.bodies[:2], server.bodies[2:]
    assert all(r.ok for r in results)
    assert [p["response_format"]["type"] for p in probes] == ["json_schema", "json_object"]
    assert len(calls) == 3 and not any("response_format" in c for c in calls)
    assert all(json.dumps(QA.model_json_schema()) in c["messages"][-1]["content"] for c in calls)


@pytest.mark.parametrize(
    ("accept", "dialect"), [(("json_schema",), "json_schema"), (("json_object",), "json_object")]
)
def test_auto_detects_the_dialect(accept: tuple[str, ...], dialect: str) -> None:
    import asyncio

    with fault_server({}, accept=accept) as server:
        b = backend(server)

        async def probe() -> object:
            async with connect(server.base_url) as client:
                return await b.dialect(client)

        assert asyncio.run(probe()) == dialect


def test_retry_after_is_honoured_and_backoff_grows() -> None:
    assert retry_delay(0, 0.1, 60, retry_after=3.0) >= 3.0
    assert retry_delay(0, 0.1, 60, retry_after=300.0) == 60
    assert 0.8 <= retry_delay(3, 0.2, 60, None) <= 1.6
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None


def test_api_key_comes_from_env_and_is_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-test-5ecret-value"
    caplog.set_level("DEBUG")
    with fault_server({1: ["429"]}, api_key=secret) as server:
        with pytest.raises(ConfigError, match="SYNTHMILL_TEST_KEY is not set"):
            backend(server, api_key_env="SYNTHMILL_TEST_KEY").complete([Request(messages=())])
        monkeypatch.setenv("SYNTHMILL_TEST_KEY", secret)
        root = run(server, tmp_path / "run", n=3, api_key_env="SYNTHMILL_TEST_KEY")
    kept, _, _ = read_run(root)
    assert len(kept) == 3  # the key was sent: the server answers 401 without it
    for path in root.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    assert secret not in caplog.text


def test_repeated_run_makes_no_calls(tmp_path: Path) -> None:
    with fault_server({}) as server:
        run(server, tmp_path / "first", n=5)
        calls = server.calls()
        kept, _, stats = read_run(run(server, tmp_path / "second", n=5))
        assert server.calls() == calls and calls >= 5
        run(server, tmp_path / "no-cache", n=5, cache=False)  # what --no-cache sets
        assert server.calls() == calls + 5
    assert len(kept) == 5
    assert stats["stages"]["test.ask_qa"]["counters"]["llm.cache_hits"] == 5
    assert stats["stages"]["test.ask_qa"]["counters"].get("llm.calls", 0) == 0
