"""The published layout loads with Hugging Face `datasets`, both by files and by card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from datasets import load_dataset

from synthmill import Output, Pipeline
from synthmill.curate.exact_dedup import ExactDedup
from synthmill.pipeline.function import FunctionStage
from synthmill.sources.range import Range
from tests.pipeline import steps


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_datasets_reads_what_synthmill_wrote(tmp_path: Path, fmt: str) -> None:
    result = Pipeline(
        seed=3,
        shard_size=8,  # several shards, some with rows that differ in columns
        stages=[
            Range(n=40),
            FunctionStage(function=steps.make_text),
            ExactDedup(),
            FunctionStage(function=steps.tag),
        ],
        output=Output(dir=tmp_path / "run", format=fmt, file_rows=10),  # several files
    ).run()
    files = sorted(str(p) for p in (result.root / "data").iterdir())
    assert len(files) > 1
    builder = "parquet" if fmt == "parquet" else "json"
    by_files = load_dataset(
        builder, data_files=files, split="train", cache_dir=str(tmp_path / "c1")
    )
    by_card = load_dataset(str(result.root), split="train", cache_dir=str(tmp_path / "c2"))
    assert by_files.num_rows == by_card.num_rows == result.rows
    assert by_files["text"] == by_card["text"]
    ours = _rows(files, fmt)
    assert by_files["text"] == [r["text"] for r in ours]
    assert [m["id"] for m in by_files["_meta"]] == [r["_meta"]["id"] for r in ours]


def _rows(files: list[str], fmt: str) -> list[dict[str, Any]]:
    if fmt == "parquet":
        return [r for f in files for r in pq.read_table(f).to_pylist()]
    return [json.loads(line) for f in files for line in Path(f).read_text().splitlines()]
