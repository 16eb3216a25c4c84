"""Plain rows from user files: CSV, JSONL, Parquet and text (per file or per line)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pyarrow.parquet as pq

from synthmill.errors import DataError

FORMATS = ("csv", "jsonl", "parquet", "text")
_SUFFIXES = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".txt": "text",
    ".md": "text",
}


def sniff_format(path: Path) -> str:
    """The format implied by a file's extension, or a DataError saying how to set it."""
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"cannot tell the format of {path} from its extension; set format: to one of "
            + ", ".join(FORMATS)
        )
    return fmt


def read_rows(
    path: Path, fmt: str, *, text_column: str = "text", per: Literal["file", "line"] = "file"
) -> Iterator[dict[str, Any]]:
    """Yield the rows of one file as dicts."""
    if fmt == "parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
            yield from batch.to_pylist()
    elif fmt == "jsonl":
        yield from _jsonl_rows(path)
    elif fmt == "csv":
        with open(path, encoding="utf-8", newline="") as fh:
            yield from csv.DictReader(fh)
    elif fmt == "text":
        yield from _text_rows(path, text_column, per)
    else:
        raise DataError(f"unknown input format {fmt!r}; use one of {', '.join(FORMATS)}")


def _jsonl_rows(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{path}:{number}: not valid JSON ({exc.msg}); fix that line"
                ) from exc
            if not isinstance(row, dict):
                raise DataError(f"{path}:{number}: expected a JSON object per line")
            yield row


def _text_rows(path: Path, column: str, per: str) -> Iterator[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if per == "file":
        yield {column: text, "source": path.name}
        return
    for line in text.splitlines():
        if line.strip():
            yield {column: line}
