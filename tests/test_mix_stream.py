"""`mix` streams its inputs (issue 17): two passes, an 8-byte hash a row in between, and
the same rows in the same order as choosing from every row held in memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthmill.mix import Mix, select
from synthmill.pipeline.stage import StageContext
from synthmill.records import Record


def write_jsonl(path: Path, prefix: str, n: int) -> str:
    path.write_text("".join(json.dumps({"text": f"{prefix} {i}", "n": i}) + "\n" for i in range(n)))
    return str(path)


@pytest.mark.parametrize(
    ("share", "budget"), [(None, None), (None, 70), (0.25, None), (0.5, 61), (1.0, 9), (0.0, 33)]
)
def test_two_passes_keep_the_rows_select_keeps_in_memory(
    tmp_path: Path, share: float | None, budget: int | None
) -> None:
    real = [write_jsonl(tmp_path / f"real{i}.jsonl", f"real{i}", 40 + 7 * i) for i in range(2)]
    synth = [write_jsonl(tmp_path / f"gen{i}.jsonl", f"gen{i}", 30 + 5 * i) for i in range(2)]
    stage = Mix(real=real, synthetic=synth, synthetic_share=share, budget=budget)
    ctx = StageContext(seed=7, stage="mix")
    streamed = list(stage.rows(ctx))
    pool: list[Record] = []
    for path, origin, generation in stage._inputs():
        pool += stage._records(path, origin, generation, [0])
    held = select(pool, share, budget, 7)
    assert [r.meta.id for r in streamed] == [r.meta.id for r in held]
    assert [r.data for r in streamed] == [r.data for r in held]
    if budget is not None:
        assert len(streamed) <= budget
    if share not in (None, 0.0, 1.0):
        synthetic = sum(r.meta.origin == "synthetic" for r in streamed)
        assert abs(synthetic / len(streamed) - share) < 0.02
