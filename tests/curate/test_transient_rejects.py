"""The file commands' runner (curate/apply) ends like a pipeline when model calls fail for
transient reasons: rows the judge never judged are not silently dropped with exit 0.
Real parts: a real local HTTP server that answers 500 for some rows, the real judge
stage, the openai backend, Parquet files."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthmill.curate.apply import apply
from synthmill.curate.judge import Judge
from synthmill.pipeline.transient import TransientFailuresError
from tests.llm.faults import fault_server

TEXTS = [f"row {i}: the river rose after three days of rain." for i in range(10)]


def _judge(url: str) -> Judge:
    backend: dict[str, object] = {"type": "openai", "model": "m", "base_url": url}
    backend |= {"max_retries": 0, "timeout": 2.0, "backoff": 0.05}
    return Judge(backend=backend, batch_size=4)


def test_rows_the_judge_could_not_reach_are_exit_3_not_a_quiet_drop(tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": TEXTS}), src)
    out = tmp_path / "judged.parquet"
    plan: dict[int | str, list[str]] = {i: ["500"] * 20 for i in (2, 5)}  # 2 of 10: 20%
    with fault_server(plan) as server, pytest.raises(TransientFailuresError) as caught:
        apply([_judge(server.base_url)], src, out, seed=0)
    message = str(caught.value)
    assert caught.value.exit_code == 3 and "\n" not in message
    assert "2 of 10 rows (20.0%) at stage 'score.judge' failed for transient reasons" in message
    assert f"the 8 rows kept are written to {out}" in message and "--overwrite" in message
    assert pq.read_table(out).num_rows == 8  # what was judged is kept, not lost
    stats = json.loads((tmp_path / "judged.stats.json").read_text())
    assert stats["stages"]["score.judge"]["rejected_transient"] == 2
    rejects = (tmp_path / "judged.rejects.jsonl").read_text().splitlines()
    assert len(rejects) == 2

    # the rerun the line asks for retries only what failed and ends with exit 0
    with fault_server({}) as server:
        done = apply([_judge(server.base_url)], src, out, seed=0, overwrite=True)
    assert done.rows_out == 10


def test_a_share_within_the_pipelines_default_is_kept_with_exit_0(tmp_path: Path) -> None:
    texts = [f"row {i}: the river rose after three days of rain." for i in range(40)]
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": texts}), src)
    out = tmp_path / "judged.jsonl"
    with fault_server({7: ["500"] * 20}) as server:  # 1 of 40: 2.5%, under 5%
        done = apply([_judge(server.base_url)], src, out, seed=0)
    assert done.rows_out == 39
    assert done.stages["score.judge"]["rejected_transient"] == 1
