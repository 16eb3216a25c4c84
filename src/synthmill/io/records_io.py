"""Records to and from Parquet and JSONL, with a fixed Arrow type for provenance."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from synthmill.errors import DataError
from synthmill.io.atomic import atomic_path
from synthmill.records import META_COLUMN, Record

META_TYPE = pa.struct(
    [
        ("id", pa.string()),
        ("parents", pa.list_(pa.string())),
        ("stage", pa.string()),
        ("origin", pa.string()),
        ("seed", pa.int64()),
        ("recipe", pa.string()),
        ("model", pa.string()),
        ("prompt_hash", pa.string()),
        ("params", pa.string()),
        ("verdicts", pa.string()),
        ("scores", pa.string()),
    ]
)


def records_to_table(records: Sequence[Record]) -> pa.Table:
    """An Arrow table with the data columns first and the `_meta` struct last."""
    metas = pa.array([r.meta.to_row() for r in records], type=META_TYPE)
    data = [r.data for r in records]
    if not any(data):
        return pa.table({META_COLUMN: metas})
    columns = list(dict.fromkeys(key for row in data for key in row))
    try:
        table = pa.table({c: [row.get(c) for row in data] for c in columns})
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(
            f"rows do not share a column type ({exc}); make each column one type"
        ) from exc
    return table.append_column(pa.field(META_COLUMN, META_TYPE), metas)


def write_records(path: str | Path, records: Sequence[Record], fmt: str = "parquet") -> None:
    """Write records atomically as Parquet or JSONL."""
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            pq.write_table(records_to_table(records), tmp)
        elif fmt == "jsonl":
            _write_jsonl(tmp, (r.to_row(json_fields=False) for r in records))
        else:
            raise DataError(f"unknown format {fmt!r}; use 'parquet' or 'jsonl'")


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=str))
            fh.write("\n")


def write_rejects(path: str | Path, records: Iterable[Record | dict[str, Any]]) -> None:
    """Write rejected records as JSONL: stage, reason, raw payload, then the row and its meta."""
    with rejects_writer(path) as write:
        for r in records:
            write(r)


@contextlib.contextmanager
def rejects_writer(path: str | Path) -> Iterator[Callable[[Record | dict[str, Any]], None]]:
    """A function that appends one rejected record to `path` (atomic once the block ends),
    so a stage's rejects are written as they come rather than held in memory. A dict is
    a line already in that form (the columnar path builds them without records)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:

        def write(r: Record | dict[str, Any]) -> None:
            if isinstance(r, Record):
                rej = r.meta.rejection
                head = {"stage": rej.stage, "reason": rej.reason, "raw": rej.raw} if rej else {}
                r = {**head, "row": r.data, META_COLUMN: r.meta.to_row(json_fields=False)}
            fh.write(json.dumps(r, ensure_ascii=False, default=str))
            fh.write("\n")

        yield write


def read_records(path: str | Path) -> list[Record]:
    """Read records written by `write_records` (Parquet or JSONL, by extension)."""
    p = Path(path)
    if p.suffix == ".parquet":
        rows = pq.read_table(p).to_pylist()
    else:
        with open(p, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
    return [Record.from_row(row) for row in rows]
