"""The published rows of a run directory, read file by file, and where an export may go."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from synthmill.errors import ConfigError, DataError, RunDirError
from synthmill.io.rows import run_file
from synthmill.records import META_COLUMN, Meta


@dataclass(frozen=True)
class Row:
    """One published row: its position in the run, its columns and its provenance."""

    index: int
    data: dict[str, Any]
    meta: Meta


@dataclass(frozen=True)
class RunData:
    """A finished run's data files (Parquet or JSONL) and the columns they hold."""

    root: Path
    files: tuple[Path, ...]

    @classmethod
    def open(cls, root: Path) -> RunData:
        if not (root / "config.yaml").is_file():
            raise RunDirError(f"{root} is not a synthmill run directory (no config.yaml)")
        data = root / "data"
        files = sorted(data.glob("train-*.parquet")) + sorted(data.glob("train-*.jsonl"))
        if not files:
            raise DataError(f"{root}: no data/train-* files; run the pipeline to the end first")
        return cls(root, tuple(files))

    def columns(self) -> list[str]:
        """Every data column of the run, in first-seen order (provenance excluded)."""
        names: dict[str, None] = {}
        for path in self.files:
            with run_file(path):
                if path.suffix == ".parquet":
                    names.update(dict.fromkeys(pq.read_schema(path).names))
                else:
                    for row in _jsonl(path):
                        names.update(dict.fromkeys(row))
        names.pop(META_COLUMN, None)
        return list(names)

    def count(self) -> int | None:
        """How many rows the run has, from Parquet footers (None for JSONL runs)."""
        if any(p.suffix != ".parquet" for p in self.files):
            return None
        return sum(_num_rows(p) for p in self.files)

    def rows(self) -> Iterator[Row]:
        """Every row with its provenance, one batch of one file in memory at a time."""
        index = 0
        for path in self.files:
            with run_file(path):
                for raw in _parquet(path) if path.suffix == ".parquet" else _jsonl(path):
                    meta = raw.pop(META_COLUMN, None) or {"id": f"row-{index}"}
                    yield Row(index, raw, Meta.from_row(meta))
                    index += 1

    def check_target(self, out: Path) -> None:
        """Refuse an output path among the run's own files (its data is the export's input)."""
        target, root = out.resolve(), self.root.resolve()
        inside = target == root or root in target.parents
        if inside and root / "export" not in target.parents:
            raise ConfigError(
                f"--out {out} is inside the run directory (its data, config and card); "
                f"write under {self.root / 'export'} or outside the run"
            )
        if target.is_dir():
            raise ConfigError(f"--out {out} is a directory; name a file")
        if str(target) in self.inputs():
            raise ConfigError(
                f"--out {out} is an input file of the run (its source data); choose another file"
            )

    def inputs(self) -> set[str]:
        """The input files run.json fingerprinted (absolute paths); none when unreadable."""
        try:
            run = json.loads((self.root / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return set()
        found = run.get("inputs") if isinstance(run, dict) else None
        return set(found) if isinstance(found, dict) else set()


def _num_rows(path: Path) -> int:
    with run_file(path):
        return int(pq.ParquetFile(path).metadata.num_rows)


def _parquet(path: Path) -> Iterator[dict[str, Any]]:
    for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
        yield from batch.to_pylist()


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise DataError(f"{path}:{number}: expected a JSON object per line")
                yield row
