"""`read`: rows from CSV, JSONL, Parquet or text files (a file, a folder, or a glob)."""

from __future__ import annotations

import glob
import hashlib
import itertools
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Literal

import pyarrow as pa
from pydantic import Field, PrivateAttr, field_validator

from synthmill.errors import DataError
from synthmill.io.arrow_rows import arrow_batches, arrow_scan
from synthmill.io.records_io import records_to_table
from synthmill.io.rows import ColumnKinds, read_rows, scan_rows, sniff_format
from synthmill.pipeline.columnar import meta_table
from synthmill.pipeline.stage import Source, StageContext
from synthmill.records import META_COLUMN, Origin, Record

log = logging.getLogger(__name__)


def expand(path: str) -> list[Path]:
    """The files a path names: itself, the files of a folder, or the matches of a glob.

    A folder's hidden files and the synthmill run directories inside it are left out
    (a run dir is output, such as this run's own when output.dir lies in the folder).
    """
    p = Path(path).expanduser()
    if _is_run_dir(p) and (p / "data").is_dir():  # a run directory: its dataset
        p = p / "data"
    if p.is_dir():
        runs = [m.parent for m in p.rglob("run.json") if _is_run_dir(m.parent)]
        return sorted(
            f
            for f in p.rglob("*")
            if f.is_file() and not f.name.startswith(".") and not any(r in f.parents for r in runs)
        )
    if p.is_file():
        return [p]
    return sorted(Path(m) for m in glob.glob(str(p), recursive=True) if Path(m).is_file())


def _is_run_dir(p: Path) -> bool:
    return (p / "run.json").is_file() and (p / "config.yaml").is_file()


class Read(Source):
    """Read user data. Rows that already carry synthmill provenance keep it."""

    kind: ClassVar[str] = "read"
    path: str = Field(description="A file, a folder, or a glob such as data/*.jsonl.")
    format: Literal["csv", "jsonl", "parquet", "text"] | None = Field(
        default=None, description="Defaults to the file extension."
    )
    text_column: str = Field(default="text", description="Column for text files.")
    per: Literal["file", "line"] = Field(default="file", description="Text: one row per ...")
    origin: Origin = Field(default="real", description="Is this data human-written or synthetic?")
    limit: int | None = Field(default=None, ge=1, description="Read at most this many rows.")
    _files: list[Path] | None = PrivateAttr(default=None)  # fixed by preflight()
    _rows: int | None = PrivateAttr(default=None)  # counted by preflight(), for progress
    # files preflight() read whole with pyarrow into the types the row path gives: tables()
    # reads them columnar; the others go row by row (text, CSV, nested or odd JSON)
    _arrow: set[str] = PrivateAttr(default_factory=set)

    @field_validator("path")
    @classmethod
    def _exists(cls, value: str) -> str:
        files = expand(value)
        if not files:
            raise ValueError(f"no file matches {value!r}; check the path (relative to the cwd)")
        return str(Path(value).expanduser().absolute()) if Path(value).exists() else value

    def input_files(self) -> list[Path]:
        return self._files if self._files is not None else expand(self.path)

    def preflight(self) -> None:
        """Read every file once before the run: a bad line or mixed column types fail here,
        before anything is written; no rows at all is a warning.

        The files found here are the ones the run reads (and fingerprints): files that
        appear later, such as the run's own output under a glob, are not read.
        """
        files = self._files = expand(self.path)
        if not files:
            raise DataError(f"stage {self.label!r}: no file matches {self.path!r} any more")
        kinds = ColumnKinds()
        n = 0
        for path in files:
            left = None if self.limit is None else self.limit - n
            if left == 0:
                break
            fmt = self.format or sniff_format(path)
            found = arrow_scan(path, fmt, kinds, left)
            if found is not None:
                self._arrow.add(str(path))
                n += found
                continue
            n += scan_rows(path, fmt, kinds, text_column=self.text_column, per=self.per, limit=left)
        self._rows = n
        if n == 0:
            log.warning("%s holds no rows; the run will publish 0 rows", self.path)

    def count(self) -> int | None:
        """The rows preflight() found (it reads every file), so progress has a total."""
        return self._rows

    def rows(self, ctx: StageContext) -> Iterator[Record]:
        n = 0
        for path in self.input_files():
            fmt = self.format or sniff_format(path)
            rows = read_rows(path, fmt, text_column=self.text_column, per=self.per)
            for index, row in enumerate(rows):
                if self.limit is not None and n >= self.limit:
                    return
                n += 1
                yield self._record(row, path.name, index)

    def samples(self, ctx: StageContext, rows: int) -> Iterator[tuple[str, list[Record]]]:
        """The first rows of each file: a file of a glob without a column a stage reads
        is one line, not rows of nulls (deduplicated as copies of each other)."""
        if self.limit is not None:  # the files past the limit are not read at all
            yield from super().samples(ctx, rows)
            return
        for path in self.input_files():
            fmt = self.format or sniff_format(path)
            found = read_rows(path, fmt, text_column=self.text_column, per=self.per)
            first = enumerate(itertools.islice(found, rows))
            yield str(path), [self._record(row, path.name, i) for i, row in first]

    def tables(self, ctx: StageContext) -> Iterator[pa.Table]:
        """rows() as tables: files pyarrow reads as the row path would, columnar; others
        row by row, a chunk at a time. Same rows, ids and provenance as rows()."""
        n = 0
        for path in self.input_files():
            for data, start in self._file_tables(path):
                if self.limit is not None:
                    data = data.slice(0, max(0, self.limit - n))
                if data.num_rows == 0:
                    return
                n += data.num_rows
                if start is None:  # read row by row: provenance is in the table already
                    yield data
                    continue
                ids = row_ids(self.label, path.name, start, data.num_rows)
                yield meta_table(ids, self.label, self.origin, data)

    def _file_tables(self, path: Path) -> Iterator[tuple[pa.Table, int | None]]:
        """(table of data columns, index of its first row in the file), or (table with its
        `_meta` column, None) for a file read row by row."""
        if str(path) in self._arrow:
            start = 0
            for batch in arrow_batches(path, self.format or sniff_format(path)):
                yield pa.Table.from_batches([batch]), start
                start += batch.num_rows
            return
        fmt = self.format or sniff_format(path)
        rows = read_rows(path, fmt, text_column=self.text_column, per=self.per)
        records = (self._record(row, path.name, i) for i, row in enumerate(rows))
        while chunk := list(itertools.islice(records, ROW_CHUNK)):
            yield records_to_table(chunk), None

    def _record(self, row: dict[str, object], file: str, index: int) -> Record:
        if isinstance(row.get(META_COLUMN), dict):
            return Record.from_row(row)
        return Record.new(row, key=(file, index), stage=self.label, origin=self.origin)


ROW_CHUNK = 8192  # rows per table when a file is read row by row


def row_ids(stage: str, file: str, start: int, n: int) -> list[str]:
    """`Record.new(..., key=(file, index), stage=stage).meta.id` for n rows from `start`:
    the same JSON text that stable_hash hashes, built once per file, not per row."""
    head = f"[{json.dumps(stage, ensure_ascii=False)}, [{json.dumps(file, ensure_ascii=False)}, "
    return [
        hashlib.blake2b(f"{head}{i}], []]".encode(), digest_size=8).hexdigest()
        for i in range(start, start + n)
    ]
