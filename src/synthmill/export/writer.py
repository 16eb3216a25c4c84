"""Write export objects as JSONL or Parquet (by the file's suffix), atomically.

The file appears whole or not at all: objects go to a temp file beside the target,
which replaces it only when every row was converted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from synthmill.errors import ConfigError, DataError
from synthmill.io.atomic import atomic_path

FileKind = Literal["jsonl", "parquet"]
SUFFIXES: dict[str, FileKind] = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}
CHUNK = 1024


def file_kind(path: Path) -> FileKind:
    """JSONL or Parquet, from the output file's suffix."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ConfigError(f"--out {path}: name a .jsonl or .parquet file")
    return kind


def write(path: Path, items: Iterable[dict[str, Any]], schema: pa.Schema | None) -> None:
    """Write every item to `path` atomically; an exception leaves the old file (or none)."""
    kind = file_kind(path)
    with atomic_path(path) as tmp:
        if kind == "jsonl":
            _jsonl(tmp, items)
        else:
            _parquet(tmp, iter(items), schema)


def _jsonl(path: Path, items: Iterable[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item, ensure_ascii=False, default=str) + "\n")


def _parquet(path: Path, items: Iterator[dict[str, Any]], schema: pa.Schema | None) -> None:
    """Stream in chunks when the schema is known; otherwise infer it from all the rows."""
    if schema is None:
        pq.write_table(_table(list(items), None), path)
        return
    with pq.ParquetWriter(path, schema) as writer:
        while chunk := list(islice(items, CHUNK)):
            writer.write_table(_table(chunk, schema))


def _table(rows: list[dict[str, Any]], schema: pa.Schema | None) -> pa.Table:
    try:
        return pa.Table.from_pylist(rows, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"rows do not share one type per field ({exc}); write .jsonl") from exc
