"""`read`: rows from CSV, JSONL, Parquet or text files (a file, a folder, or a glob)."""

from __future__ import annotations

import glob
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, PrivateAttr, field_validator

from synthmill.errors import DataError
from synthmill.io.rows import ColumnKinds, read_rows, scan_rows, sniff_format
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

    def _record(self, row: dict[str, object], file: str, index: int) -> Record:
        if isinstance(row.get(META_COLUMN), dict):
            return Record.from_row(row)
        return Record.new(row, key=(file, index), stage=self.label, origin=self.origin)
