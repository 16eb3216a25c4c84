"""Self-consistency (rejection sampling without a gold answer) through the real embedded
model (issue 19: it was tested only with the fake backend)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthmill import Pipeline
from synthmill.io.records_io import read_records
from synthmill.recipes.rejection_sampling import vote_key

pytestmark = [pytest.mark.slow, pytest.mark.model]
BACKEND = {"type": "llamacpp", "n_threads": 1}


def test_majority_vote_over_real_samples(tmp_path: Path) -> None:
    """At temperature 0 the k samples agree, so the vote is unanimous and the row is kept
    with agreement 1.0 and the answer every sample gave; the calls are really made."""
    src = tmp_path / "p.jsonl"
    src.write_text(json.dumps({"problem": "What is 2 + 2?"}) + "\n")
    config = {
        "name": "sc",
        "seed": 3,
        "backend": BACKEND,
        "stages": [
            {"use": "read", "path": str(src)},
            {"use": "rejection_sampling", "k": 3, "temperature": 0.0, "max_tokens": 64},
        ],
        "allow_empty": True,  # every reply may fail to parse (checked below)
        "output": {"dir": str(tmp_path / "out")},
    }
    result = Pipeline.from_config(config).run()
    counters = result.stats["stages"]["rejection_sampling"]["counters"]
    assert counters["llm.calls"] == 3 and counters["self_consistency.problems"] == 1
    rows = [r for f in sorted((result.root / "data").glob("*.parquet")) for r in read_records(f)]
    if not rows:  # every reply failed to parse: rejected with the samples, never lost
        rejects = (result.root / "rejects").rglob("*.jsonl")
        (entry,) = [json.loads(x) for f in rejects for x in f.read_text().splitlines()]
        assert entry["reason"] == "no majority" and entry["raw"]["answers"] == [None] * 3
        pytest.fail("the embedded model gave no parsable answer to 'What is 2 + 2?'")
    (row,) = rows
    assert row.data["agreement"] == 1.0 and row.meta.scores["agreement"] == 1.0
    assert counters["self_consistency.kept"] == 1
    assert row.data["answer"] and vote_key(row.data["answer"])
    assert row.data["solution"] and row.meta.model.startswith("SmolLM2")
    assert row.meta.parents and row.meta.recipe == "rejection_sampling"
