"""Turn finished shards into the published dataset: data files, stats.json and the card."""

from __future__ import annotations

import ctypes
import errno
import itertools
import json
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from synthmill.card import render_card
from synthmill.card_checks import sample_rows
from synthmill.errors import RunFailedError
from synthmill.io.atomic import atomic_path, write_text_atomic
from synthmill.pipeline.columnar import rebatch
from synthmill.pipeline.stats import StageStats, merge
from synthmill.records import META_COLUMN

# Temp folders beside data/ (names a killed run's cleanup removes: hidden, ending in .tmp).
STAGING = ".data.new.tmp"
OLD = ".data.old.tmp"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2

if TYPE_CHECKING:
    from synthmill.pipeline.pipeline import Output, Pipeline
    from synthmill.pipeline.rundir import RunDir
    from synthmill.pipeline.stage import Stage


def publish(rd: RunDir, pipeline: Pipeline, segments: list[list[Stage]]) -> dict[str, Any]:
    """Write data/, stats.json and README.md from the last segment's shards. Idempotent.

    Shards are read one at a time and re-cut into files of about `output.file_rows` rows
    (or `output.file_mb` MiB), so publishing needs memory for one shard and one row group.
    The files are written into a staging folder that is then swapped in, so data/ holds
    either the old complete dataset or the new one, whenever the process is killed.
    """
    check_inputs_unchanged(rd, pipeline)
    last = len(segments) - 1
    shards = sorted(rd.segment_dir(last).glob("shard-*.parquet"))
    shards = [p for p in shards if pq.ParquetFile(p).metadata.num_rows > 0]
    parts = [rd.read_json(rd.segment_marker(k))["stages"] for k in range(len(segments))]
    stages = merge(parts, [s.label for s in pipeline.stages])
    if not shards:
        check_not_empty(pipeline, stages, rd.root)
    staging = rd.root / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    written = _write_data(staging, shards, pipeline.output)
    swap_in(staging, rd.data_dir)
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


def check_not_empty(pipeline: Pipeline, stages: dict[str, StageStats], root: Path) -> None:
    """Refuse to publish an empty dataset made by stages that rejected (or dropped) every
    row, unless the config says `allow_empty: true`. An empty input is no such case (no
    row was lost), nor is a stage over max_failed_share: exit code 3 says that one."""
    if pipeline.allow_empty:
        return
    lost = next((label for label, s in stages.items() if s.rows_in and not s.rows_out), None)
    share = pipeline.max_failed_share
    if lost is None or any(s.transient > share * s.rows_in for s in stages.values()):
        return
    stage = stages[lost]
    if not stage.rejected:
        what = f"dropped by {lost!r} ({stage.rows_in} rows in, none out, none rejected)"
        see = ""
    else:
        top = ", ".join(f"{why} ({n})" for why, n in stage.rejected.most_common(3))
        more = ", ..." if len(stage.rejected) > 3 else ""
        what = f"rejected by {lost!r} ({sum(stage.rejected.values())} rejected: {top}{more})"
        see = f"; see {root / 'rejects'}"
    raise RunFailedError(
        f"every row was {what}; nothing published{see}; set allow_empty: true "
        "(--set allow_empty=true) to publish an empty dataset"
    )


@dataclass
class Written:
    files: list[Path] = field(default_factory=list)
    rows: int = 0
    origin: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)

    def add(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        self.origin.update(_value_counts(table, "origin"))
        self.models.update(_value_counts(table, "model"))


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


ROW_GROUP_BYTES = 64 << 20  # a row group holds about this much uncompressed data


@dataclass(frozen=True)
class Layout:
    """How the published rows are cut: `per_file` rows a file, `group` rows a row group."""

    files: int
    per_file: int
    group: int


def plan_layout(rows: int, nbytes: int, file_rows: int, file_mb: int) -> Layout:
    """Even files of at most about `file_rows` rows and `file_mb` MiB, in row groups of
    about ROW_GROUP_BYTES; a file holds a whole number of row groups."""
    if rows == 0:
        return Layout(0, 0, 0)
    by_bytes = -(-nbytes // (file_mb << 20))
    per_file = -(-rows // max(1, -(-rows // file_rows), by_bytes))
    row_bytes = max(nbytes / rows, 1.0)
    group = max(1, min(per_file, int(ROW_GROUP_BYTES // row_bytes)))
    per_file = -(-per_file // group) * group
    return Layout(-(-rows // per_file), per_file, group)


def _footer_size(path: Path) -> tuple[int, int]:
    """(rows, uncompressed bytes) of a Parquet file, from its footer."""
    meta = pq.ParquetFile(path).metadata
    nbytes = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    return int(meta.num_rows), int(nbytes)


def _write_data(data_dir: Path, shards: list[Path], output: Output) -> Written:
    """Coalesce the shards into `train-NNNNN-of-NNNNN` files (see plan_layout).

    Shards are streamed: memory holds one shard and one row group, not the data.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    fmt = output.format
    ext = "parquet" if fmt == "parquet" else "jsonl"
    sizes = [_footer_size(p) for p in shards]
    layout = plan_layout(
        sum(r for r, _ in sizes), sum(b for _, b in sizes), output.file_rows, output.file_mb
    )
    n = layout.files
    out = Written(files=[data_dir / f"train-{i:05d}-of-{n:05d}.{ext}" for i in range(n)])
    if n == 0:
        return out
    schema = unified_schema(shards)
    tables = (conform(pq.read_table(shard), schema) for shard in shards)
    groups = rebatch(tables, layout.group, combine=False)  # the writer takes chunks
    per_file = layout.per_file // layout.group
    for path in out.files:
        with atomic_path(path) as tmp:
            if fmt == "parquet":
                with pq.ParquetWriter(tmp, schema) as writer:
                    for table in itertools.islice(groups, per_file):
                        out.add(table)
                        writer.write_table(table, row_group_size=table.num_rows)
            else:
                with open(tmp, "w", encoding="utf-8") as fh:
                    for table in itertools.islice(groups, per_file):
                        out.add(table)
                        _write_jsonl(fh, table)
    return out


def _write_jsonl(fh: TextIO, table: pa.Table) -> None:
    for row in table.to_pylist():
        meta = row[META_COLUMN]
        for key in ("params", "verdicts", "scores"):
            meta[key] = json.loads(meta[key]) if meta[key] else {}
        fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


def _value_counts(table: pa.Table, key: str) -> Counter[str]:
    values = pc.struct_field(table.column(META_COLUMN), key)
    return Counter({str(i["values"]): i["counts"] for i in pc.value_counts(values).to_pylist()})
