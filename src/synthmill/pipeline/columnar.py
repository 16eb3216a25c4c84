"""The columnar fast path: whole Arrow tables through stages that can take them.

A shard travels as a `pa.Table` whose data columns come first and whose provenance is
the `_meta` struct column (the layout of the shard files), so no Python object is made
per row. A stage is columnar when it implements `process_table` (a `Check` implements
`check_table`, a `GlobalStage` `process_tables`, a `Source` `tables`) and no subclass
overrides its row-wise method below that; the runner converts tables to records only
before a row-wise stage. `SYNTHMILL_ROW_PATH=1` forces the row path everywhere: both
paths give the same rows and provenance (tests/pipeline/test_columnar.py).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from synthmill.io.records_io import META_TYPE
from synthmill.pipeline import table_json
from synthmill.records import META_COLUMN, Record, is_transient

if TYPE_CHECKING:
    from synthmill.pipeline.stage import Stage
    from synthmill.pipeline.stats import StageStats

ROW_PATH_ENV = "SYNTHMILL_ROW_PATH"
# The row-wise methods a columnar method stands in for, by the columnar method's name.
_STANDS_FOR = {
    "process_table": ("process",),
    "check_table": ("check", "check_batch", "process"),
    "process_tables": ("process_all",),
    "tables": ("rows",),
}


def row_path_forced() -> bool:
    """Whether SYNTHMILL_ROW_PATH asks for one Record per row in every stage."""
    return os.environ.get(ROW_PATH_ENV, "").strip().lower() not in ("", "0", "false", "no")


def columnar_step(stage: Stage) -> bool:
    """Whether the runner may hand a local stage whole tables (`process_table`)."""
    from synthmill.pipeline.stage import Check, GlobalStage, Source

    if row_path_forced() or isinstance(stage, GlobalStage | Source):
        return False
    if isinstance(stage, Check):  # Check.process_table is bookkeeping over check_table
        owner = next(c for c in type(stage).__mro__ if "process_table" in vars(c))
        if owner is Check:
            return implements(stage, "check_table")
        return implements(stage, "process_table", ("process", "check", "check_batch"))
    return implements(stage, "process_table")


def columnar_source(source: Stage) -> bool:
    """Whether a source gives tables (`tables`) and its process() keeps rows as they are."""
    from synthmill.pipeline.stage import Stage as Base

    if row_path_forced() or not implements(source, "tables"):
        return False
    owner = next(c for c in type(source).__mro__ if "process" in vars(c))
    return owner is Base


def columnar_global(stage: Stage) -> bool:
    """Whether a global stage takes the segment's shards as tables (`process_tables`)."""
    return not row_path_forced() and implements(stage, "process_tables")


def shard_layout(table: pa.Table) -> pa.Table:
    """Data columns first, `_meta` last: the column order of every shard file."""
    names = [c for c in table.column_names if c != META_COLUMN] + [META_COLUMN]
    return table if names == table.column_names else table.select(names)


def implements(stage: Stage, method: str, row_methods: tuple[str, ...] = ()) -> bool:
    """Whether `stage` has a columnar `method` that no row-wise override shadows.

    A subclass that overrides `check` (say) of a columnar check gets the row path, so its
    own code runs: the columnar method must be defined at or below every row-wise one.
    """
    mro = type(stage).__mro__
    owner = next((c for c in mro if method in vars(c)), None)
    if owner is None or getattr(vars(owner)[method], "placeholder", False):
        return False
    for row_method in row_methods or _STANDS_FOR[method]:
        row_owner = next((c for c in mro if row_method in vars(c)), None)
        if row_owner is not None and mro.index(row_owner) < mro.index(owner):
            return False
    return True


@dataclass
class TableResult:
    """What a columnar stage made of one table: kept rows, and rejected ones with why."""

    kept: pa.Table
    rejected: pa.Table
    reasons: list[str] = field(default_factory=list)
    raws: list[Any] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    # the payloads as a column of JSON text instead of `raws` (never transient ones)
    raw_json: pa.Array | None = None


@dataclass
class TableVerdicts:
    """A check's verdicts on a table, one entry per row (`check_table`'s return value)."""

    ok: npt.NDArray[np.bool_]
    reasons: Sequence[str]
    scores: Sequence[float | int | None] | npt.NDArray[Any] | None = None
    raws: Sequence[Any] | None = None


# ---- tables and records --------------------------------------------------------------------
def table_to_records(table: pa.Table) -> list[Record]:
    """The records of a table in the shard layout (as a shard file is read)."""
    return [Record.from_row(row) for row in table.to_pylist()]


def shard_table(path: Path, columns: Sequence[str] | None = None) -> pa.Table:
    """A shard file as a table (ParquetFile.read: a third of read_table's time on shards);
    `columns`: only those of them the shard has."""
    pf = pq.ParquetFile(path)
    if columns is not None:
        columns = [c for c in columns if c in pf.schema_arrow.names]
    return pf.read(columns=columns, use_threads=False)  # threads cost more than a shard


def write_shard(table: pa.Table, path: Path) -> None:
    """A work shard in the shard layout; uncompressed, no dictionaries or statistics:
    written once, read once or twice, deleted with the run's work folder."""
    pq.write_table(
        shard_layout(table),
        path,
        compression="none",
        use_dictionary=False,
        write_statistics=False,
    )


def select(tables: Iterable[pa.Table], columns: Sequence[str]) -> Iterable[pa.Table]:
    """Only `columns` of each table (those it has): read only them where the tables come
    from shard files (`select()`), else cut from each table."""
    chooser = getattr(tables, "select", None)
    if chooser is not None:
        return chooser(list(columns))  # type: ignore[no-any-return]
    return (t.select([c for c in columns if c in t.column_names]) for t in tables)


def meta_table(
    ids: Sequence[str], stage: str, origin: str, data: pa.Table | None = None
) -> pa.Table:
    """`data` (or no columns) with a fresh `_meta` column: source rows, no parents."""
    n = len(ids)
    empty = pa.array(["{}"] * n, pa.string())
    arrays = [
        pa.array(ids, pa.string()),
        pa.array([[]] * n, pa.list_(pa.string())),
        pa.array([stage] * n, pa.string()),
        pa.array([origin] * n, pa.string()),
        pa.nulls(n, pa.int64()),
        pa.nulls(n, pa.string()),
        pa.nulls(n, pa.string()),
        pa.nulls(n, pa.string()),
        empty,
        empty,
        empty,
    ]
    meta = pa.StructArray.from_arrays(arrays, fields=list(META_TYPE))
    table = data if data is not None else pa.table({})
    if table.num_columns == 0:
        return pa.table({META_COLUMN: meta})
    return table.append_column(pa.field(META_COLUMN, META_TYPE), meta)


def rebatch(tables: Iterable[pa.Table], size: int, combine: bool = True) -> Iterator[pa.Table]:
    """The rows of `tables`, in order, as tables of `size` rows (the last may be short);
    each in one chunk, or (`combine` false) as slices of the tables, not copied."""
    parts: list[pa.Table] = []
    held = 0
    for table in tables:
        while table.num_rows:
            take = min(size - held, table.num_rows)
            parts.append(table.slice(0, take))
            held += take
            table = table.slice(take)
            if held == size:
                yield _concat(parts, combine)
                parts, held = [], 0
    if parts:
        yield _concat(parts, combine)


def _concat(parts: list[pa.Table], combine: bool) -> pa.Table:
    table = pa.concat_tables(parts, promote_options="permissive")
    return table.combine_chunks() if combine else table


def text_values(table: pa.Table, column: str) -> list[str]:
    """`str(row.get(column) or "")` for every row, as the row-wise stages read a column."""
    if column not in table.column_names:
        return [""] * table.num_rows
    col = table.column(column)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return [v or "" for v in col.to_pylist()]
    return [str(v or "") for v in col.to_pylist()]


# ---- verdicts in the provenance -----------------------------------------------------------
def with_verdicts(table: pa.Table, label: str, verdicts: TableVerdicts) -> pa.Table:
    """The table with each row's verdict in `_meta.verdicts` and its score in `scores`,
    written exactly as `Record.with_verdict` then `Meta.to_row` write them."""
    meta = table.column(META_COLUMN).combine_chunks()
    n = table.num_rows
    fast = _first_verdicts(meta, label, verdicts)
    if fast is not None:
        return _set_meta(table, meta, *fast)
    scores = verdicts.scores if verdicts.scores is not None else [None] * n
    if isinstance(scores, np.ndarray):
        scores = scores.tolist()
    key = json.dumps(label, ensure_ascii=False)
    reason_json: dict[str, str] = {}
    new_v = []
    for old, ok, reason, score in zip(
        meta.field("verdicts").to_pylist(),
        verdicts.ok.tolist(),
        verdicts.reasons,
        scores,
        strict=True,
    ):
        if old and old != "{}":
            entry = {"ok": ok, "reason": reason, "score": score}
            new_v.append(_dumps({**json.loads(old), label: entry}))
            continue
        if (r := reason_json.get(reason)) is None:
            r = reason_json[reason] = json.dumps(reason, ensure_ascii=False)
        okj = "true" if ok else "false"
        new_v.append(f'{{{key}: {{"ok": {okj}, "reason": {r}, "score": {_number(score)}}}}}')
    new_s = [
        old if s is None else _merge_score(old, label, key, s)
        for old, s in zip(meta.field("scores").to_pylist(), scores, strict=True)
    ]
    return _set_meta(table, meta, pa.array(new_v, pa.string()), pa.array(new_s, pa.string()))


def _set_meta(
    table: pa.Table, meta: pa.StructArray, verdicts: pa.Array, scores: pa.Array
) -> pa.Table:
    fields = {f.name: meta.field(f.name) for f in META_TYPE}
    fields["verdicts"], fields["scores"] = verdicts, scores
    arrays = [fields[f.name] for f in META_TYPE]
    new_meta = pa.StructArray.from_arrays(arrays, fields=list(META_TYPE))
    index = table.column_names.index(META_COLUMN)
    return table.set_column(index, pa.field(META_COLUMN, META_TYPE), new_meta)


def _first_verdicts(
    meta: pa.StructArray, label: str, verdicts: TableVerdicts
) -> tuple[pa.Array, pa.Array] | None:
    """The verdicts and scores columns built by Arrow string kernels, where every row has
    no verdict or score yet and the scores are integers (the common case: a first check);
    None otherwise. The text is what the row path's json.dumps writes."""
    scores = verdicts.scores
    if not isinstance(scores, np.ndarray) or scores.dtype.kind not in "iu":
        return None
    for name in ("verdicts", "scores"):
        column = meta.field(name)
        if column.null_count or not pc.all(pc.equal(column, "{}")).as_py():
            return None
    key = json.dumps(label, ensure_ascii=False)
    names = sorted(set(verdicts.reasons))
    codes = {name: k for k, name in enumerate(names)}
    index = np.fromiter((codes[r] for r in verdicts.reasons), np.int32, len(verdicts.reasons))
    texts = [json.dumps(name, ensure_ascii=False) for name in names]
    reason = pa.DictionaryArray.from_arrays(pa.array(index), pa.array(texts)).cast(pa.string())
    ok = pc.if_else(pa.array(np.asarray(verdicts.ok, bool)), "true", "false")
    score = pa.array(scores.astype(np.int64)).cast(pa.string())
    new_v = pc.binary_join_element_wise(
        f'{{{key}: {{"ok": ', ok, ', "reason": ', reason, ', "score": ', score, "}}", ""
    )
    new_s = pc.binary_join_element_wise(f"{{{key}: ", score, "}", "")
    return new_v, new_s


def _number(value: Any) -> str:
    if type(value) is int:
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _merge_score(old: str | None, label: str, key: str, score: Any) -> str:
    """`old` (a JSON object, sorted keys) with `label` set to `score`."""
    if not old or old == "{}":
        return f"{{{key}: {_number(score)}}}"
    return _dumps({**json.loads(old), label: score})


def split_verdicts(table: pa.Table, label: str, verdicts: TableVerdicts) -> TableResult:
    """Record the verdicts, keep the rows that passed and reject the others with why."""
    if table.num_rows == 0:
        return TableResult(table, table)
    table = with_verdicts(table, label, verdicts)
    ok = np.asarray(verdicts.ok, dtype=bool)
    bad = np.flatnonzero(~ok)
    raws = verdicts.raws
    return TableResult(
        table.filter(pa.array(ok)),
        table.take(pa.array(bad, pa.int64())),
        [verdicts.reasons[i] for i in bad.tolist()],
        [raws[i] for i in bad.tolist()] if raws is not None else [None] * len(bad),
    )


# ---- bookkeeping -----------------------------------------------------------------------
def count_result(stats: StageStats, result: TableResult) -> None:
    """Add a result's rejects (by reason, transient ones apart) and kept rows to `stats`."""
    stats.rows_out += result.kept.num_rows
    stats.rejected.update(Counter(result.reasons))
    stats.transient += sum(1 for raw in result.raws if raw is not None and is_transient(raw))
    stats.counters.update(result.counters)


def reject_text(label: str, result: TableResult) -> list[pa.Buffer]:
    """The rejects-file lines of a result's rejected rows, as the row path writes them
    (`rejects_writer`): stage, reason, raw, the row, and its provenance; UTF-8 text in
    buffers to write one after the other."""
    raws = result.raw_json if result.raw_json is not None else result.raws
    return table_json.reject_text(label, result.rejected, result.reasons, raws)


def column_names(table: pa.Table) -> set[str]:
    return set(table.column_names) - {META_COLUMN}


def meta_ids(table: pa.Table) -> list[str]:
    return pc.struct_field(table.column(META_COLUMN), "id").to_pylist()  # type: ignore[no-any-return]
