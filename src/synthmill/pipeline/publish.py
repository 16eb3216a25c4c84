"""Turn finished shards into the published dataset: data files, stats.json and the card."""

from __future__ import annotations

import json
import time
from collections import Counter
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
    """Write data/, stats.json and README.md from the last segment's shards. Idempotent."""
    last = len(segments) - 1
    shards = [p for p in sorted(rd.segment_dir(last).glob("shard-*.parquet"))]
    tables = _unified([pq.read_table(p) for p in shards])
    files = _write_data(rd.data_dir, tables, pipeline.output.format)
    parts = [rd.read_json(rd.segment_marker(k))["stages"] for k in range(len(segments))]
    stages = merge(parts, [s.label for s in pipeline.stages])
    stats = {
        "name": pipeline.name,
        "rows": sum(t.num_rows for t in tables),
        "files": [str(f.relative_to(rd.root)) for f in files],
        "origin": _value_counts(tables, "origin"),
        "models": _value_counts(tables, "model"),
        "stages": _with_summaries(pipeline, {k: s.to_dict() for k, s in stages.items()}),
        "published": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    rd.write_json(rd.stats_path, stats)
    write_text_atomic(rd.card_path, render_card(pipeline, stats, rd.read_json(rd.run_json)))
    return stats


def _with_summaries(pipeline: Pipeline, stages: dict[str, Any]) -> dict[str, Any]:
    for stage in pipeline.stages:
        summary = stage.summarize(stages[stage.label])
        if summary is not None:
            stages[stage.label]["summary"] = summary
    return stages


def _unified(tables: list[pa.Table]) -> list[pa.Table]:
    """Give every shard the same schema (columns missing in a shard become nulls)."""
    tables = [t for t in tables if t.num_rows > 0]
    if not tables:
        return []
    schema = pa.unify_schemas([t.schema for t in tables], promote_options="permissive")
    data_fields = [f for f in schema if f.name != META_COLUMN]
    schema = pa.schema([*data_fields, schema.field(META_COLUMN)])
    out = []
    for t in tables:
        cols = [
            t.column(f.name).cast(f.type)
            if f.name in t.column_names
            else pa.nulls(t.num_rows, f.type)
            for f in schema
        ]
        out.append(pa.Table.from_arrays(cols, schema=schema))
    return out


def _write_data(data_dir: Path, tables: list[pa.Table], fmt: str) -> list[Path]:
    data_dir.mkdir(parents=True, exist_ok=True)
    ext = "parquet" if fmt == "parquet" else "jsonl"
    n = len(tables)
    files = [data_dir / f"train-{i:05d}-of-{n:05d}.{ext}" for i in range(n)]
    for stale in set(data_dir.iterdir()) - set(files):
        stale.unlink()
    for path, table in zip(files, tables, strict=True):
        with atomic_path(path) as tmp:
            if fmt == "parquet":
                pq.write_table(table, tmp)
            else:
                _write_jsonl(tmp, table)
    return files


def _write_jsonl(path: Path, table: pa.Table) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in table.to_pylist():
            meta = row[META_COLUMN]
            for key in ("params", "verdicts", "scores"):
                meta[key] = json.loads(meta[key]) if meta[key] else {}
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


def _value_counts(tables: list[pa.Table], field: str) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for t in tables:
        values = pc.struct_field(t.column(META_COLUMN), field)
        for item in pc.value_counts(values).to_pylist():
            counts[str(item["values"])] += item["counts"]
    return dict(sorted(counts.items()))
