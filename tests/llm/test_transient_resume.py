"""Transient rejects reopen their shard and everything computed from it, in any segment."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthmill.curate.exact_dedup import ExactDedup
from synthmill.pipeline.pipeline import Output, Pipeline
from synthmill.pipeline.rundir import RunDir
from synthmill.pipeline.runner import plan
from synthmill.pipeline.transient import TransientFailuresError, plan_reopen
from synthmill.sources.range import Range
from tests.llm.faults import FaultServer, fault_server
from tests.llm.stages import AskQA, Rephrase
from tests.llm.test_openai_faults import backend, read_run

pytestmark = pytest.mark.slow


def _pipeline(server: FaultServer, out: Path) -> Pipeline:
    stages = [
        Range(n=12),
        AskQA(backend=backend(server), batch_size=4),
        ExactDedup(columns=["question"]),
    ]
    return Pipeline(stages=stages, output=Output(dir=out), shard_size=4)


def test_a_retried_row_flows_through_the_global_stage_after_it(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with fault_server({5: ["500"] * 4, 9: ["badjson"] * 9}) as server:
        pipe = _pipeline(server, out)
        with pytest.raises(TransientFailuresError):
            pipe.run()
        todo = plan_reopen(RunDir(out), plan(pipe.stages))
        assert todo.shards == [(0, 1)] and todo.from_segment == 1  # shard 1 holds row 5
        kept, _, stats = read_run(out)
        assert len(kept) == 10 and stats["stages"]["dedup.exact"]["rows_in"] == 10
        assert "1 of these failed for transient reasons" in (out / "README.md").read_text()
        untouched = (out / "work" / "seg-00" / "shard-00000.done.json").stat().st_mtime_ns
        pipe.run()
        assert server.calls(9) == 3  # the content reject was not asked again
        assert (out / "work" / "seg-00" / "shard-00000.done.json").stat().st_mtime_ns == untouched
    kept, rejects, stats = read_run(out)
    assert sorted(int(str(k["question"]).split()[-1]) for k in kept) == [
        i for i in range(12) if i != 9
    ]
    assert [r["row"]["index"] for r in rejects] == [9]
    assert stats["stages"]["dedup.exact"]["rows_in"] == 11
    assert not plan_reopen(RunDir(out), plan(pipe.stages))
    assert "transient" not in (out / "README.md").read_text()


def test_calls_of_a_redone_stage_count_once_even_when_rows_change_shards(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with fault_server({1: ["500"] * 4}) as server:
        stages = [
            Range(n=12),
            AskQA(backend=backend(server), batch_size=4),
            ExactDedup(columns=["question"]),
            Rephrase(backend=backend(server), batch_size=4),
        ]
        pipe = Pipeline(stages=stages, output=Output(dir=out), shard_size=4)
        with pytest.raises(TransientFailuresError):
            pipe.run()
        pipe.run()  # row 1 comes back: every row after it moves to another shard
        assert not server.paid_twice()
        paid = len({key for key, _ in server.paid})
    _, _, stats = read_run(out)
    counters = [stats["stages"][s]["counters"] for s in ("test.ask_qa", "test.rephrase")]
    assert [c["llm.calls"] - c.get("llm.failures", 0) for c in counters] == [12, 12]
    assert sum(c.get("llm.cache_hits", 0) for c in counters) == 0
    assert paid == 24 + 1  # and the structured-output probe, once per process


def test_nothing_to_reopen_in_a_clean_run(tmp_path: Path) -> None:
    with fault_server({}) as server:
        pipe = _pipeline(server, tmp_path / "run")
        pipe.run()
        calls = server.calls()
        pipe.run()  # finished and clean: nothing is redone, nothing asked
        assert server.calls() == calls
    assert not plan_reopen(RunDir(tmp_path / "run"), plan(pipe.stages))
