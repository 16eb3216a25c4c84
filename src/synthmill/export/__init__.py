"""Export a finished run as training data for the library that trains on it.

One module per family of formats:
  chat        openai (`messages`), sharegpt, alpaca, messages (multi-turn as is): SFT
  preference  dpo: prompt / chosen / rejected in TRL's conversational form
  rl          rl (TRL GRPOTrainer) and verl: prompts with gold answers and code tests
Around them: `rundata` reads the run, `messages` validates conversations, `writer`
writes JSONL or Parquet atomically.

Columns are checked against the run before anything is written; a row that does not
fit stops the export with its id, or with `skip_invalid` is skipped and counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from synthmill.errors import ConfigError, DataError
from synthmill.export.base import Columns, Format, Options
from synthmill.export.chat import Alpaca, Messages, OpenAI, ShareGPT
from synthmill.export.messages import BadRow
from synthmill.export.preference import DPO
from synthmill.export.rl import RL, Verl
from synthmill.export.rundata import Row, RunData
from synthmill.export.writer import write
from synthmill.pipeline.progress import LogProgress, Progress
from synthmill.records import stable_hash

FORMATS: dict[str, type[Format]] = {
    f.name: f for f in (OpenAI, ShareGPT, Alpaca, Messages, DPO, RL, Verl)
}

__all__ = ["FORMATS", "Columns", "ExportPlan", "ExportResult", "Options", "export", "make_format"]


@dataclass
class ExportResult:
    """What an export wrote, what it skipped (by reason) and how many repeats it merged."""

    path: Path
    rows: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    first_skip: str = ""
    merged: int = 0


def make_format(
    fmt: str, columns: Columns, available: list[str], options: Options | None = None
) -> Format:
    """The format object for `fmt`, its columns resolved against the run's columns."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: unknown format; use one of {', '.join(FORMATS)}")
    return FORMATS[fmt](columns, available, options)


@dataclass(frozen=True)
class ExportPlan:
    """A checked export: the run, the format with its columns resolved, and the target file.

    Making one reads only the run's schema; every config error is raised here, so a
    caller can show progress bars only once the export is sure to start.
    """

    run: RunData
    target: Format
    path: Path

    @classmethod
    def make(
        cls,
        run_dir: Path,
        out: Path | None = None,
        fmt: str = "openai",
        columns: Columns | None = None,
        options: Options | None = None,
    ) -> ExportPlan:
        run = RunData.open(Path(run_dir))
        target = make_format(fmt, columns or Columns(), run.columns(), options)
        path = out or run.root / "export" / f"{fmt}{target.suffix}"
        run.check_target(path)
        return cls(run, target, path)

    def write(
        self,
        *,
        skip_invalid: bool = False,
        provenance: bool = False,
        progress: Progress | None = None,
    ) -> ExportResult:
        """Convert and write every row (atomically); bad rows raise, or are counted."""
        result = ExportResult(self.path)
        schema = self.target.schema()
        if schema is not None and provenance:
            schema = schema.append(pa.field("id", pa.string()))
        name = f"export {self.target.name}"
        ticks = _Ticks(progress or LogProgress(), name, self.run.count(), result)
        rows = ticks.rows(self.run.rows())
        write(self.path, _items(rows, self.target, result, skip_invalid, provenance), schema)
        return result


def export(
    run_dir: Path,
    out: Path | None = None,
    fmt: str = "openai",
    columns: Columns | None = None,
    *,
    options: Options | None = None,
    skip_invalid: bool = False,
    provenance: bool = False,
    progress: Progress | None = None,
) -> ExportResult:
    """Write every row of a run in format `fmt` (default file: RUN/export/FMT.jsonl)."""
    plan = ExportPlan.make(run_dir, out, fmt, columns, options)
    return plan.write(skip_invalid=skip_invalid, provenance=provenance, progress=progress)


class _Ticks:
    """Reports rows read and written to a progress display, a batch at a time."""

    EVERY = 512

    def __init__(
        self, progress: Progress, name: str, total: int | None, result: ExportResult
    ) -> None:
        self.progress, self.name, self.result, self.reported = progress, name, result, 0
        progress.stage_started(name, total)

    def rows(self, rows: Iterator[Row]) -> Iterator[Row]:
        n = 0
        for n, row in enumerate(rows, start=1):
            yield row
            if n % self.EVERY == 0:
                self._tick(self.EVERY)
        self._tick(n % self.EVERY)

    def _tick(self, rows_in: int) -> None:
        written, self.reported = self.result.rows - self.reported, self.result.rows
        self.progress.advance(self.name, rows_in, written)


def _items(
    rows: Iterator[Row], target: Format, result: ExportResult, skip_invalid: bool, provenance: bool
) -> Iterator[dict[str, Any]]:
    """The converted rows, bad ones raised or counted, repeats merged; none at all is an error."""
    seen: set[str] = set()
    for row in rows:
        item = _convert(target, row, result, skip_invalid)
        if item is None:
            continue
        key = target.key(item)
        if key is not None and stable_hash(key) in seen:
            result.merged += 1
            continue
        if key is not None:
            seen.add(stable_hash(key))
        result.rows += 1
        yield {**item, "id": row.meta.id} if provenance else item
    if result.rows == 0:
        raise DataError(_nothing(result))


def _convert(
    target: Format, row: Row, result: ExportResult, skip_invalid: bool
) -> dict[str, Any] | None:
    """One row in the output format; a bad row stops the export, or is counted and None."""
    try:
        return target.convert(row)
    except BadRow as bad:
        where = f"row {row.index} (id {row.meta.id}): {bad.reason}"
        if not skip_invalid:
            raise DataError(
                f"{where}; fix the data, or pass --skip-invalid to skip and count such rows"
            ) from None
        result.skipped[bad.reason] += 1
        result.first_skip = result.first_skip or where
        return None


def _nothing(result: ExportResult) -> str:
    if not result.skipped:
        return "the run has no rows to export"
    skipped = sum(result.skipped.values())
    return f"no row could be exported: {skipped} skipped, the first {result.first_skip}"
