"""Turn finished shards into the published dataset: data files, stats.json and the card."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from synthmill.card import render_card
from synthmill.card_checks import sample_rows
from synthmill.errors import RunFailedError
from synthmill.io.atomic import atomic_path, write_text_atomic
from synthmill.pipeline.stats import merge
from synthmill.records import META_COLUMN

# Temp folders beside data/ (names a killed run's cleanup removes: hidden, ending in .tmp).
STAGING = ".data.new.tmp"
OLD = ".data.old.tmp"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2

if TYPE_CHECKING:
    from synthmill.pipeline.pipeline import Pipeline
    from synthmill.pipeline.rundir import RunDir
    from synthmill.pipeline.stage import Stage


def publish(rd: RunDir, pipeline: Pipeline, segments: list[list[Stage]]) -> dict[str, Any]:
    """Write data/, stats.json and README.md from the last segment's shards. Idempotent.

    Shards are read one at a time, so publishing needs memory for one shard, not the data.
    The files are written into a staging folder that is then swapped in, so data/ holds
    either the old complete dataset or the new one, whenever the process is killed.
    """
    check_inputs_unchanged(rd, pipeline)
    last = len(segments) - 1
    shards = sorted(rd.segment_dir(last).glob("shard-*.parquet"))
    shards = [p for p in shards if pq.ParquetFile(p).metadata.num_rows > 0]
    staging = rd.root / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    written = _write_data(staging, shards, pipeline.output.format)
    swap_in(staging, rd.data_dir)
    parts = [rd.read_json(rd.segment_marker(k))["stages"] for k in range(len(segments))]
    stages = merge(parts, [s.label for s in pipeline.stages])
    stats = {
        "name": pipeline.name,
        "rows": written.rows,
        "files": [str(rd.data_dir.relative_to(rd.root) / f.name) for f in written.files],
        "origin": dict(sorted(written.origin.items())),
        "models": dict(sorted(written.models.items())),
        "stages": _with_summaries(pipeline, {k: s.to_dict() for k, s in stages.items()}),
        "published": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    rd.write_json(rd.stats_path, stats)
    sample = sample_rows(sorted(rd.data_dir.iterdir()), pipeline.output.format)
    card = render_card(pipeline, stats, rd.read_json(rd.run_json), sample)
    write_text_atomic(rd.card_path, card)
    return stats


def check_inputs_unchanged(rd: RunDir, pipeline: Pipeline) -> None:
    """Refuse to publish rows made from an input that changed while the run was going."""
    from synthmill.pipeline.preflight import input_fingerprints
    from synthmill.pipeline.rundir import input_change

    stored = (rd.read_json(rd.run_json) or {}).get("inputs")
    if stored is None:
        return
    change = input_change(stored, input_fingerprints(pipeline.stages))
    if change:
        raise RunFailedError(
            f"{change} while the run was going, so its rows may mix old and new input; "
            "nothing was published: restore it and run again, or run with --overwrite"
        )


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


def swap_in(staging: Path, target: Path) -> None:
    """Make `staging` the folder `target`, atomically where the kernel can exchange them.

    Without renameat2 (not Linux, or a file system without it) two renames leave, at worst,
    no `target` for a moment, never a partial one; the next run publishes again.
    """
    if not target.exists():
        os.rename(staging, target)
    elif _exchange(staging, target):
        shutil.rmtree(staging)  # it now holds the old data
    else:
        old = target.with_name(OLD)
        shutil.rmtree(old, ignore_errors=True)
        os.rename(target, old)
        os.rename(staging, target)
        shutil.rmtree(old)
    fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths with renameat2(RENAME_EXCHANGE); False where that is not available."""
    func = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if func is None:
        return False
    if func(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _write_data(data_dir: Path, shards: list[Path], fmt: str) -> Written:
    data_dir.mkdir(parents=True, exist_ok=True)
    ext = "parquet" if fmt == "parquet" else "jsonl"
    n = len(shards)
    out = Written(files=[data_dir / f"train-{i:05d}-of-{n:05d}.{ext}" for i in range(n)])
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
