"""Plain rows from user files: CSV, JSONL, Parquet and text (per file or per line).

Every problem with a file is a one-line DataError naming the file (and the line where
one is known): invalid JSON, bytes that are not UTF-8, a ragged CSV row, a corrupt or
truncated Parquet file. `scan_rows` checks a file the same way without building records,
so a run can refuse bad input before it writes anything.
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from synthmill.errors import DataError, RunDirError, SynthmillError
from synthmill.records import META_COLUMN as META

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
Per = Literal["file", "line"]
_INT64 = (-(2**63), 2**63 - 1)
STREAM_BUFFER = 1 << 20


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
    path: Path, fmt: str, *, text_column: str = "text", per: Per = "file"
) -> Iterator[dict[str, Any]]:
    """Yield the rows of one file as dicts."""
    try:
        if fmt == "parquet":
            for batch in _parquet(path).iter_batches(batch_size=4096):
                yield from batch.to_pylist()
        elif fmt == "jsonl":
            yield from _jsonl_rows(path)
        elif fmt == "csv":
            yield from _csv_rows(path)
        elif fmt == "text":
            yield from _text_rows(path, text_column, per)
        else:
            raise DataError(f"unknown input format {fmt!r}; use one of {', '.join(FORMATS)}")
    except pa.ArrowException as exc:
        raise DataError(_bad_parquet(path, exc)) from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


class ColumnKinds:
    """The kind of value each column holds, so mixed types fail before a run starts."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[str, str]] = {}  # column -> (kind, where first seen)

    def add(self, column: str, kind: str | None, where: str) -> None:
        if kind is None:
            return
        if column == META and kind != "object":
            raise DataError(f"{where}: column {META!r} holds {kind}; {NOT_PROVENANCE}")
        first = self.seen.setdefault(column, (kind, where))
        if first[0] != kind:
            raise DataError(
                f"{where}: column {column!r} holds {kind} here but {first[0]} at {first[1]}; "
                "make each column one type"
            )

    def add_row(self, row: dict[str, Any], where: str) -> None:
        for column, value in row.items():
            self.add_value(str(column), value, where)

    def add_value(self, column: str, value: Any, where: str) -> None:
        """Record a value's kind, and the kinds inside it (`col.key`, `col[]`)."""
        kind = value_kind(value)
        if kind == "number" and isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
            raise DataError(
                f"{where}: column {column!r} holds an integer too large for 64 bits; "
                "write it as a string"
            )
        self.add(column, kind, where)
        if column == META and isinstance(value, dict):
            check_meta(value.get("id"), value.get("parents"), where)
        if isinstance(value, dict):
            for key, inner in value.items():
                self.add_value(f"{column}.{key}", inner, where)
        elif isinstance(value, list):
            for inner in value:
                self.add_value(f"{column}[]", inner, where)


NOT_PROVENANCE = (
    "synthmill keeps each row's provenance (a mapping with an id) there; rename that column"
)


def check_meta(id_: Any, parents: Any, where: str) -> None:
    """A `_meta` value read back must be provenance: an id, and parents as a list."""
    if not isinstance(id_, str | int) or isinstance(id_, bool) or id_ == "":
        raise DataError(f"{where}: column {META!r} has no id; {NOT_PROVENANCE}")
    if parents is not None and not isinstance(parents, list | tuple):
        raise DataError(f"{where}: {META}.parents is not a list; {NOT_PROVENANCE}")


def value_kind(value: Any) -> str | None:
    """A coarse kind that Arrow can store in one column: number, text, boolean, ..."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def arrow_kind(t: pa.DataType) -> str:
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "text"
    if pa.types.is_struct(t) or pa.types.is_map(t):
        return "object"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return "list"
    return str(t)


def scan_rows(
    path: Path,
    fmt: str,
    kinds: ColumnKinds,
    *,
    text_column: str = "text",
    per: Per = "file",
    limit: int | None = None,
) -> int:
    """Check a whole file as read_rows would read it; return its number of rows."""
    if fmt == "parquet":
        return _scan_parquet(path, kinds, limit)
    n = 0
    for row in read_rows(path, fmt, text_column=text_column, per=per):
        if limit is not None and n >= limit:
            break
        n += 1
        kinds.add_row(row, f"{path} row {n}")
    return n


def _scan_parquet(path: Path, kinds: ColumnKinds, limit: int | None) -> int:
    """Decode every page (a damaged one fails here, not mid-run) without making rows."""
    try:
        pf = _parquet(path)
        for field in pf.schema_arrow:
            kinds.add(field.name, arrow_kind(field.type), str(path))
            t = field.type
            if field.name == META and not (pa.types.is_struct(t) and t.get_field_index("id") >= 0):
                raise DataError(f"{path}: column {META!r} has no id; {NOT_PROVENANCE}")
        n = 0
        for batch in pf.iter_batches(batch_size=65536):
            n += batch.num_rows
            if limit is not None and n >= limit:
                return limit
        return n
    except (pa.ArrowException, OSError) as exc:
        raise DataError(_bad_parquet(path, exc)) from exc


def _parquet(path: Path) -> pq.ParquetFile:
    # Rows are streamed batch by batch: no pre-buffering of whole row groups, and column
    # chunks read through a 1 MiB buffer instead of whole (bench/engine.py curation).
    return pq.ParquetFile(path, pre_buffer=False, buffer_size=STREAM_BUFFER)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file; bytes that are not UTF-8 name their line."""
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(_not_utf8(path, number, raw[exc.start], exc.start)) from exc
            yield number, text


def _not_utf8(path: Path, line: int, byte: int, offset: int) -> str:
    return (
        f"{path}:{line}: not UTF-8 text (byte 0x{byte:02x} at column {offset + 1}); "
        "re-encode the file as UTF-8 (e.g. iconv -t UTF-8)"
    )


def _jsonl_rows(path: Path) -> Iterator[dict[str, Any]]:
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: not valid JSON ({exc.msg}); fix that line") from exc
        if not isinstance(row, dict):
            raise DataError(f"{path}:{number}: expected a JSON object per line")
        yield row


def _csv_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a CSV file with a header; a row with another number of fields is an error."""
    reader = csv.reader(text for _, text in _lines(path))
    try:
        header = next(reader, None)
        if header is None:
            return
        _check_header(path, header)
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise DataError(
                    f"{path}:{reader.line_num}: {len(row)} fields where the header has "
                    f"{len(header)}; fix that row (quote fields that contain commas)"
                )
            yield dict(zip(header, row, strict=True))
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from exc


def _check_header(path: Path, header: list[str]) -> None:
    dupes = sorted({name for name in header if header.count(name) > 1})
    if dupes:
        raise DataError(f"{path}:1: the header names column {dupes[0]!r} twice; rename one")


def _text_rows(path: Path, column: str, per: str) -> Iterator[dict[str, Any]]:
    if per == "file":
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            offset = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1)
            raise DataError(_not_utf8(path, line, raw[exc.start], offset)) from exc
        yield {column: text, "source": path.name}
        return
    for _, text_line in _lines(path):
        if text_line.strip():
            yield {column: text_line.rstrip("\r\n")}


@contextlib.contextmanager
def run_file(path: Path) -> Iterator[None]:
    """Read a file of a run directory (its data or a checkpoint): bytes that do not decode
    (a truncated or damaged Parquet or JSONL file) are one RunDirError naming the file
    (exit 2), not a traceback; disk and permission errors stay OSErrors."""
    try:
        yield
    except (pa.ArrowException, ValueError, OSError) as exc:
        if isinstance(exc, SynthmillError) or (
            isinstance(exc, OSError) and not isinstance(exc, pa.ArrowException) and exc.errno
        ):
            raise
        raise RunDirError(
            f"{path} is damaged ({_first_line(exc)}); run the pipeline again to write it anew "
            "(synthmill run CONFIG; with --overwrite to start the run over)"
        ) from exc


def _bad_parquet(path: Path, exc: BaseException) -> str:
    return f"{path}: not a readable Parquet file ({_first_line(exc)}); re-export it"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
