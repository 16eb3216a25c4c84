"""`dedup.exact` names the kept row, not the previous copy (issue 19: no test had a third copy)."""

from __future__ import annotations

import json
from pathlib import Path

from synthmill import Pipeline
from synthmill.curate.exact_dedup import ExactDedup
from synthmill.pipeline.stage import StageContext
from synthmill.records import Record


def rec(text: str, i: int) -> Record:
    return Record.new({"text": text}, key=i, stage="read", origin="real")


def test_third_and_fourth_copies_name_the_first_row() -> None:
    rows = [rec(t, i) for i, t in enumerate(["A b", "other", "a  B", "A B ", "other", "a b"])]
    out = list(ExactDedup().process_all(rows, StageContext(seed=0, stage="dedup.exact")))
    kept = [r for r in out if not r.rejected]
    assert [r.meta.id for r in kept] == [rows[0].meta.id, rows[1].meta.id]
    named = {r.meta.id: r.meta.rejection.raw["duplicate_of"] for r in out if r.meta.rejection}
    assert named == {
        rows[2].meta.id: rows[0].meta.id,
        rows[3].meta.id: rows[0].meta.id,  # the third copy: not rows[2], the previous one
        rows[4].meta.id: rows[1].meta.id,
        rows[5].meta.id: rows[0].meta.id,
    }


def test_third_copy_in_a_run_names_a_published_row(tmp_path: Path) -> None:
    """Through a run with several shards: every duplicate_of is a row of data/."""
    src = tmp_path / "in.jsonl"
    texts = ["same text", "x", "Same  text", "y", "SAME TEXT", "x", "same text."]
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    config = {
        "name": "d",
        "shard_size": 2,
        "stages": [{"use": "read", "path": str(src)}, {"use": "dedup.exact"}],
        "output": {"dir": str(tmp_path / "out"), "format": "jsonl"},
    }
    root = Pipeline.from_config(config).run().root
    published = [
        json.loads(line)
        for f in sorted((root / "data").glob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]
    ids = {r["_meta"]["id"]: r["text"] for r in published}
    assert sorted(ids.values()) == ["same text", "same text.", "x", "y"]
    rejects = [
        json.loads(line)
        for f in (root / "rejects").rglob("*.jsonl")
        for line in f.read_text().splitlines()
    ]
    assert len(rejects) == 3
    for entry in rejects:
        kept = entry["raw"]["duplicate_of"]
        assert kept in ids, "duplicate_of must name a published (kept) row"
        assert ids[kept].lower().split() == entry["row"]["text"].lower().split()
