"""The card and stats count every shard: mixed origins, several shards, a resume in between.

Issue 19: a card that counted origins from the last shard only said "100.0% synthetic" for
a 25% mix written in shards of 10, and every earlier test wrote one shard.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from synthmill import Pipeline
from synthmill.errors import RunFailedError

STEPS = "tests.pipeline.shard_steps"


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def card_and_stats(root: Path) -> tuple[str, dict[str, Any]]:
    return (root / "README.md").read_text(), json.loads((root / "stats.json").read_text())


def test_a_25_percent_mix_in_shards_of_10_says_25_percent(tmp_path: Path) -> None:
    """30 real rows then 10 synthetic: the last shard alone is 100% synthetic."""
    real = write_jsonl(tmp_path / "human.jsonl", [{"text": f"human {i}"} for i in range(30)])
    synth = write_jsonl(tmp_path / "model.jsonl", [{"text": f"model {i}"} for i in range(10)])
    config = {
        "name": "mix25",
        "shard_size": 10,
        "stages": [{"use": "mix", "real": [str(real)], "synthetic": [str(synth)]}],
        "output": {"dir": str(tmp_path / "out"), "file_rows": 10},  # 4 files to count over
    }
    result = Pipeline.from_config(config).run()
    card, stats = card_and_stats(result.root)
    assert len(list((result.root / "data").glob("train-*"))) == 4  # several shards published
    assert stats["origin"] == {"real": 30, "synthetic": 10}
    assert "40 rows, **25.0% synthetic** (real: 30, synthetic: 10)" in card
    assert "size_categories:\n- n<1K" in card


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_mixed_origins_in_every_shard_with_a_resume_in_between(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """25% synthetic spread over every shard (last shard: 3 of 10); stopped on shard 2."""
    src = write_jsonl(tmp_path / "rows.jsonl", [{"n": i, "text": f"row {i}"} for i in range(40)])
    config = {
        "name": "spread",
        "shard_size": 10,
        "stages": [
            {"use": "read", "path": str(src)},
            {"use": "map", "function": f"{STEPS}:every_fourth_synthetic"},
            {"use": "map", "function": f"{STEPS}:fail_at"},
            {"use": "dedup.exact"},  # a global segment: published shards are re-cut
        ],
        "output": {"dir": str(tmp_path / "out"), "format": fmt, "file_rows": 10},
    }
    monkeypatch.setenv("SYNTHMILL_TEST_FAIL_AT", "fail_at@2")
    with pytest.raises(RunFailedError, match="planted failure"):
        Pipeline.from_config(config).run()
    done = sorted(p.name for p in (tmp_path / "out/work/seg-00").glob("*.done.json"))
    assert done == ["shard-00000.done.json", "shard-00001.done.json"]
    monkeypatch.delenv("SYNTHMILL_TEST_FAIL_AT")
    result = Pipeline.from_config(config).run()  # resumes: shards 0 and 1 are not redone
    card, stats = card_and_stats(result.root)
    assert stats["rows"] == 40 and stats["origin"] == {"real": 30, "synthetic": 10}
    assert "40 rows, **25.0% synthetic** (real: 30, synthetic: 10)" in card
    for label in ("read", "every_fourth_synthetic", "fail_at", "dedup.exact"):
        assert stats["stages"][label]["rows_in"] == 40, label
        assert stats["stages"][label]["rows_out"] == 40, label
        assert f"| {label} |" in card
    assert "| read | read |" in card and "| 40 | 40 | 0 |" in card
    assert len(stats["files"]) == 4


def test_card_counts_rejects_and_models_from_every_shard(tmp_path: Path) -> None:
    """Rejects in several shards and segments add up in stats.json and the card."""
    config = {
        "name": "rejects",
        "seed": 4,
        "shard_size": 7,
        "stages": [
            {"use": "range", "n": 50},
            {"use": "map", "function": f"{STEPS}:words"},
            {"use": "dedup.exact"},
            {"use": "map", "function": f"{STEPS}:drop_some"},
        ],
        "output": {"dir": str(tmp_path / "out")},
    }
    result = Pipeline.from_config(config).run()
    card, stats = card_and_stats(result.root)
    rejects = result.root / "rejects"
    on_disk: dict[str, int] = {}
    for f in rejects.rglob("*.jsonl"):
        on_disk[f.parent.name] = on_disk.get(f.parent.name, 0) + len(f.read_text().splitlines())
    dedup, drop = stats["stages"]["dedup.exact"], stats["stages"]["drop_some"]
    assert dedup["rejected_total"] == on_disk["dedup.exact"] > 0
    assert drop["rejected_total"] == on_disk["drop_some"] > 0
    assert len(list((rejects / "drop_some").glob("*.jsonl"))) > 1  # rejects in several shards
    assert stats["rows"] == 50 - dedup["rejected_total"] - drop["rejected_total"]
    assert f"**dedup.exact** removed {dedup['rejected_total']} rows: exact duplicate" in card
    assert f"**drop_some** removed {drop['rejected_total']} rows: unlucky" in card
    assert f"Kept {stats['rows']} of the 50 rows the source made" in card
