"""The new quickstart end to end through the real embedded model (tiny n, one thread).

The wording of a 135M model is not asserted; what is: every sampled row is kept or
rejected with a reason, kept rows chain sample -> question -> answer in their provenance,
pass the on-topic filter, and the card states the kept share.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthmill import Pipeline
from synthmill.io.records_io import read_records
from tests.conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.model]
MODEL = "SmolLM2-135M-Instruct.Q4_1"
N = 16  # one shard; with seed 7 rows 11-15 of the full run survive


def test_quickstart_samples_asks_answers_and_filters(tmp_path: Path) -> None:
    overrides = [
        f"stages.0.n={N}",
        "backend={type: llamacpp, n_threads: 1}",
        f"output.dir={tmp_path / 'qs'}",
    ]
    result = Pipeline.from_yaml(REPO / "examples/quickstart.yaml", overrides).run()
    root = result.root
    rows = [r for f in sorted((root / "data").glob("*.parquet")) for r in read_records(f)]
    rejects = [
        json.loads(line)
        for f in sorted((root / "rejects").rglob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]
    assert len(rows) + len(rejects) == N  # nothing lost: each sampled row is one or the other
    assert all(d["reason"] and d["stage"] for d in rejects)
    assert rows, "seeded sampling: this seed keeps at least one row"
    stages = result.stats["stages"]
    assert stages["question"]["counters"]["llm.calls"] == N
    for r in rows:
        assert (r.meta.recipe, r.meta.model) == ("generate", MODEL)
        assert r.meta.params["json_schema"] is True and r.meta.parents
        question, answer, topic = r.data["question"], r.data["answer"], r.data["topic"]
        assert question.endswith("?") and topic.split()[-1][:4] in question.lower()
        assert len(answer.split()) >= 5 and r.data["level"] in ("beginner", "expert")
    card = (root / "README.md").read_text()
    assert f"Kept {len(rows)} of the {N} rows the source made" in card and MODEL in card
