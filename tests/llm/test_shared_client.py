"""One client per stage against a real local aiohttp server that counts what is in flight.

The stage-wide limit holds across batches run on many threads and on processes; a server
that answers 429 with Retry-After beyond a cap makes the stage halve its concurrency, wait,
and still finish every row; stats and the card show requests, 429s and retries.
"""

from __future__ import annotations

import json
import os
import signal
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, ClassVar

import pytest
from bench.mock_server import MockServer, serve_in_thread

from synthmill.llm.openai import OpenAIBackend
from synthmill.llm.transport import hub
from synthmill.pipeline.executors import LocalExecutor
from synthmill.pipeline.pipeline import Output, Pipeline
from synthmill.pipeline.stage import Stage, StageContext
from synthmill.recipes.generate import Generate
from synthmill.records import Record
from synthmill.sources.range import Range


def run(url: str, out: Path, n: int, **stage: Any) -> dict[str, Any]:
    options = stage.pop("backend", {})
    backend = OpenAIBackend(model="mock", base_url=url, **options)
    gen = Generate(prompt="row {{ index }}", output="text", backend=backend, **stage)
    stages = [Range(n=n), gen]
    pipe = Pipeline(name="shared", stages=stages, output=Output(dir=out), cache=False)
    pipe.run()
    stats: dict[str, Any] = json.loads((out / "stats.json").read_text())
    return stats


def test_the_in_flight_limit_holds_across_batches_and_threads(tmp_path: Path) -> None:
    server = MockServer(latency=0.05)
    with serve_in_thread(server) as url:
        # 8 threads x batches of 4 could put 32 in flight; the stage allows 6
        stats = run(
            url, tmp_path / "a", 96, batch_size=4, concurrency=8, backend={"max_in_flight": 6}
        )
        assert server.peak == 6
        server.peak = 0
        # default threads: enough batches to fill max_in_flight, and no more than it
        stats = run(url, tmp_path / "b", 96, backend={"max_in_flight": 24})
        assert server.peak == 24
    gen = stats["stages"]["generate"]
    assert gen["rows_out"] == 96
    assert gen["counters"]["llm.requests"] == 96 and gen["counters"]["llm.status_429"] == 0


def test_processes_share_the_stage_limit(tmp_path: Path) -> None:
    server = MockServer(latency=0.05)
    with serve_in_thread(server) as url:
        stats = run(
            url,
            tmp_path / "p",
            64,
            batch_size=16,
            concurrency=2,
            executor="process",
            backend={"max_in_flight": 10},
        )
    assert stats["stages"]["generate"]["rows_out"] == 64
    assert 5 <= server.peak <= 10  # two processes, 5 each at most


def test_429_with_retry_after_halves_concurrency_and_pauses_the_stage(tmp_path: Path) -> None:
    server = MockServer(latency=0.1, max_concurrent=4, retry_after=0.5)
    with serve_in_thread(server) as url:
        stats = run(url, tmp_path / "r", 60, backend={"max_in_flight": 16})
        first_429 = next(t for t, s in server.log if s == 429)
    gen = stats["stages"]["generate"]
    assert gen["rows_out"] == 60 and gen["rejected_total"] == 0
    c = gen["counters"]
    assert c["llm.status_429"] == server.statuses[429] > 0
    assert c["llm.requests"] == 60 + c["llm.retries"] == sum(server.statuses.values())
    # every request waited the Retry-After, not only the one that got it (a few sent
    # before the 429 reached the client may still arrive just after it)
    early = [t for t in server.arrivals if first_429 + 0.05 < t < first_429 + 0.45]
    assert early == []
    limiters = [lim for key, lim in hub().limiters.items() if url in key]
    assert limiters and all(lim.aimd.cuts >= 1 for lim in limiters)
    assert min(lim.aimd.allowed for lim in limiters) <= 8  # halved from 16 at least once
    card = (tmp_path / "r" / "README.md").read_text()
    assert "## Model server traffic" in card and "| generate | 60 |" in card


class Dies(Stage):
    """A stage whose worker process is killed (as the OOM killer would) on its first batch."""

    kind: ClassVar[str] = "test.dies"

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        os.kill(os.getpid(), signal.SIGKILL)
        return batch


def test_a_killed_worker_is_named_with_its_exit_code() -> None:
    """BrokenProcessPool alone says nothing of why; the exit codes say SIGKILL (-9)."""
    stage = Dies(concurrency=2, executor="process", batch_size=1)
    records = [Record.new({"i": i}, key=i, stage="src") for i in range(2)]
    ctxs = [StageContext(0, stage.label) for _ in records]
    with LocalExecutor([stage]) as executor, pytest.raises(BrokenProcessPool) as caught:
        list(executor.map(stage, [[r] for r in records], ctxs))
    assert "worker exit codes: " in str(caught.value) and "-9" in str(caught.value)
