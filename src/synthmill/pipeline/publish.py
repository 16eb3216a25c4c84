"""Turn finished shards into the published dataset: data files, stats.json and the card."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from synthmill.card import render_card
from synthmill.io.atomic import atomic_path, write_text_atomic
from synthmill.pipeline.stats import merge
from synthmill.records import META_COLUMN

if TYPE_CHECKING:
    from synthmill.pipeline.pipeline import Pipeline
    from synthmill.pipeline.rundir import RunDir
    from synthmill.pipeline.stage import Stage


def publish(rd: RunDir, pipeline: Pipeline, segments: list[list[Stage]]) -> dict[str, Any]:
    """Write data/, stats.json and README.md from the last segment's shards. Idempotent.

    Shards are read one at a time, so publishing needs memory for one shard, not the data.
    """
    last = len(segments) - 1
    shards = sorted(rd.segment_dir(last).glob("shard-*.parquet"))
    shards = [p for p in shards if pq.ParquetFile(p).metadata.num_rows > 0]
    written = _write_data(rd.data_dir, shards, pipeline.output.format)
    parts = [rd.read_json(rd.segment_marker(k))["stages"] for k in range(len(segments))]
    stages = merge(parts, [s.label for s in pipeline.stages])
    stats = {
        "name": pipeline.name,
        "rows": written.rows,
        "files": [str(f.relative_to(rd.root)) for f in written.files],
        "origin": dict(sorted(written.origin.items())),
        "models": dict(sorted(written.models.items())),
        "stages": _with_summaries(pipeline, {k: s.to_dict() for k, s in stages.items()}),
        "published": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    rd.write_json(rd.stats_path, stats)
    write_text_atomic(rd.card_path, render_card(pipeline, stats, rd.read_json(rd.run_json)))
    return stats


@dataclass
class Written:
    files: list[Path] = field(default_factory=list)
    rows: int = 0
    origin: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)


def _with_summaries(pipeline: Pipeline, stages: dict[str, Any]) -> dict[str, Any]:
    for stage in pipeline.stages:
        summary = stage.summarize(stages[stage.label])
        if summary is not None:
            stages[stage.label]["summary"] = summary
    return stages


def unified_schema(shards: list[Path]) -> pa.Schema:
    """One schema for every shard (data columns first, `_meta` last), from file footers."""
    schema = pa.unify_schemas([pq.read_schema(p) for p in shards], promote_options="permissive")
    data_fields = [f for f in schema if f.name != META_COLUMN]
    return pa.schema([*data_fields, schema.field(META_COLUMN)])


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Cast a shard to the schema; columns it lacks become nulls."""
    cols = [
        table.column(f.name).cast(f.type)
        if f.name in table.column_names
        else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(cols, schema=schema)


def _write_data(data_dir: Path, shards: list[Path], fmt: str) -> Written:
    data_dir.mkdir(parents=True, exist_ok=True)
    ext = "parquet" if fmt == "parquet" else "jsonl"
    n = len(shards)
    out = Written(files=[data_dir / f"train-{i:05d}-of-{n:05d}.{ext}" for i in range(n)])
    for stale in set(data_dir.iterdir()) - set(out.files):
        stale.unlink()
    schema = unified_schema(shards) if shards else pa.schema([])
    for path, shard in zip(out.files, shards, strict=True):
        table = conform(pq.read_table(shard), schema)
        out.rows += table.num_rows
        out.origin.update(_value_counts(table, "origin"))
        out.models.update(_value_counts(table, "model"))
        with atomic_path(path) as tmp:
            if fmt == "parquet":
                pq.write_table(table, tmp)
            else:
                _write_jsonl(tmp, table)
    return out


def _write_jsonl(path: Path, table: pa.Table) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in table.to_pylist():
            meta = row[META_COLUMN]
            for key in ("params", "verdicts", "scores"):
                meta[key] = json.loads(meta[key]) if meta[key] else {}
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


def _value_counts(table: pa.Table, key: str) -> Counter[str]:
    values = pc.struct_field(table.column(META_COLUMN), key)
    return Counter({str(i["values"]): i["counts"] for i in pc.value_counts(values).to_pylist()})
