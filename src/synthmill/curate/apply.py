"""Run curation stages straight on a JSONL/Parquet file: what the curation CLI commands do.

The stages are the same objects a pipeline runs; rows keep (or get) provenance, rejected
rows go to OUT's `.rejects.jsonl` with their reason and raw payload, counts to `.stats.json`.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from synthmill.errors import ConfigError, RunFailedError
from synthmill.io.atomic import write_text_atomic
from synthmill.io.records_io import write_records, write_rejects
from synthmill.pipeline.columns import SAMPLE_ROWS, check_stages, columns_of, require
from synthmill.pipeline.config import validate
from synthmill.pipeline.pipeline import Pipeline
from synthmill.pipeline.progress import LogProgress, Progress
from synthmill.pipeline.rundir import enclosing_run
from synthmill.pipeline.runner import chunks
from synthmill.pipeline.stage import GlobalStage, Stage, StageContext
from synthmill.pipeline.transient import TRANSIENT, check_failed_share
from synthmill.records import Record
from synthmill.sources.read import Read, expand

S = TypeVar("S", bound=Stage)
OUT_FORMATS = {".jsonl": "jsonl", ".parquet": "parquet"}
SRC_HELP = "Input: a JSONL, Parquet or CSV file, a folder, a glob (quoted) or a run directory."


class FileRecords:
    """The records of a file, re-iterable and streamed (global stages take several passes)."""

    def __init__(self, path: Path, seed: int) -> None:
        self.source = Read(path=str(path))
        self.ctx = StageContext(seed, self.source.label)

    def __iter__(self) -> Iterator[Record]:
        return self.source.rows(self.ctx)


@dataclass
class Outcome:
    """What applying stages to a file did: counts per stage and where things were written."""

    rows_in: int
    rows_out: int
    out: Path
    rejects: Path
    stats: Path
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)


class EverythingRejected(RunFailedError):
    """The stages rejected every row of a non-empty input: OUT is not written (exit 1);
    the rejects and stats are, so the reasons can be read. `--allow-empty` writes it."""

    def __init__(self, message: str, outcome: Outcome) -> None:
        super().__init__(message)
        self.outcome = outcome


def build(cls: type[S], options: dict[str, Any], where: str = "options") -> S:
    """A stage from CLI options, with pydantic errors turned into one-line ConfigErrors."""
    return validate(cls, options, where)  # type: ignore[return-value]


def side_paths(out: Path) -> tuple[Path, Path]:
    """The rejects and stats files written beside OUT."""
    stem = out.name[: -len(out.suffix)] if out.suffix else out.name
    return out.with_name(f"{stem}.rejects.jsonl"), out.with_name(f"{stem}.stats.json")


def input_files(src: Path, what: str = "input") -> list[Path]:
    """The files an input names: a file, a folder, a glob, or a run directory's data/."""
    files = expand(str(src))
    if not files:
        raise ConfigError(f"{what} {src} matches no file; check the path (a file, folder or glob)")
    return files


def check_paths(src: Path, out: Path, overwrite: bool) -> None:
    """Refuse to write over the input, to unknown formats, or over files without --overwrite."""
    if out.suffix.lower() not in OUT_FORMATS:
        raise ConfigError(f"--out {out}: end it in .jsonl or .parquet")
    written = (out, *side_paths(out))
    check_out_file(out, input_files(src), written)
    if not overwrite and (existing := [str(p) for p in written if p.exists()]):
        raise ConfigError(f"{', '.join(existing)} exists; pass --overwrite to replace it")


def check_out_file(out: Path, inputs: Iterable[Path], written: Iterable[Path] = ()) -> None:
    """An output file (and the files written beside it) must not be an input, nor lie inside
    a run directory but under its export/ folder: a one-line error, never lost data."""
    sources = {p.resolve() for p in inputs}
    if any(p.resolve() in sources for p in (out, *written)):
        raise ConfigError(f"--out {out} would overwrite the input; choose another file")
    if (run := enclosing_run(out)) is not None and run / "export" not in out.resolve().parents:
        raise ConfigError(
            f"--out {out} is inside the run directory {run} (its data, config and card); "
            f"write under {run / 'export'} or outside the run"
        )


def column_samples(src: Path, seed: int = 0) -> Iterator[tuple[str, set[str]]]:
    """(file, columns of its first rows) of each input file with rows (see Source.samples)."""
    source = Read(path=str(src))
    for name, first in source.samples(StageContext(seed, source.label), SAMPLE_ROWS):
        if first:
            yield name, columns_of(first)


def check_columns(stages: list[Stage], src: Path, seed: int = 0) -> None:
    """Every stage's declared columns must be in each input file: a typo (or a file of a
    glob without the column) is one line, not data loss."""
    if any(s.reads() for s in stages):
        for name, columns in column_samples(src, seed):
            check_stages(stages, columns, f"the rows of {name}")


def check_file_columns(who: str, src: Path, columns: list[str]) -> None:
    """The same for a command that reads `columns` of a file itself (measure)."""
    for name, found in column_samples(src):
        require(who, columns, found, f"the rows of {name}")


def apply(
    stages: list[Stage],
    src: Path,
    out: Path,
    *,
    seed: int = 0,
    overwrite: bool = False,
    allow_empty: bool = False,
    progress: Progress | None = None,
) -> Outcome:
    """Run stages in order over the rows of `src`; write kept rows, rejects and stats.

    When the stages reject every row of a non-empty input, OUT is not written and
    EverythingRejected is raised (rejects and stats are written), unless `allow_empty`.
    """
    check_paths(src, out, overwrite)
    check_columns(stages, src, seed)
    progress = progress or LogProgress()
    rows: Iterable[Record] = FileRecords(src, seed)
    rejected: list[Record] = []
    report: dict[str, dict[str, Any]] = {}
    rows_in = 0
    for n, stage in enumerate(stages):
        start = time.perf_counter()
        ctx = StageContext(seed, stage.label)
        progress.stage_started(stage.label, None if n == 0 else rows_in - len(rejected))
        kept, dropped, seen = _run(stage, rows, ctx, progress)
        rows_in = seen if n == 0 else rows_in
        rejected += dropped
        report[stage.label] = _stage_report(seen, kept, dropped, ctx, time.perf_counter() - start)
        rows = kept
    kept = list(rows)
    rejects, stats = side_paths(out)
    write_rejects(rejects, rejected)
    outcome = Outcome(rows_in, len(kept), out, rejects, stats, report)
    summary = {"input": str(src), "output": str(out), "rows_in": rows_in, "rows_out": len(kept)}
    if rows_in and not kept and not allow_empty:
        error = everything_rejected(outcome, src, rejected)
        summary |= {"output": None, "error": error}
        write_text_atomic(stats, json.dumps({**summary, "stages": report}, indent=2) + "\n")
        raise EverythingRejected(error, outcome)
    write_records(out, kept, OUT_FORMATS[out.suffix.lower()])
    write_text_atomic(stats, json.dumps({**summary, "stages": report}, indent=2) + "\n")
    # rows a model call failed for (timeouts, a dead server) were not judged: exit 3, as a
    # pipeline; OUT holds what was kept, and a rerun answers the judged rows from the cache
    retry = "run the same command with --overwrite to retry them (answered calls are cached)"
    max_share = Pipeline.model_fields["max_failed_share"].default  # a pipeline's default
    check_failed_share({"rows": len(kept), "stages": report}, max_share, out, retry)
    return outcome


def everything_rejected(outcome: Outcome, src: Path, rejected: list[Record]) -> str:
    """One line: all N rows rejected, the top reasons, where they are, how to allow it."""
    why = Counter(
        f"{r.meta.rejection.stage}: {r.meta.rejection.reason}" for r in rejected if r.meta.rejection
    )
    top = "; ".join(f"{reason} ({n})" for reason, n in why.most_common(3))
    more = "; ..." if len(why) > 3 else ""
    how = f"rejected ({top}{more}); see {outcome.rejects}" if why else "dropped"
    return (
        f"all {outcome.rows_in} rows of {src} were {how}; nothing written to {outcome.out}; "
        f"to write an empty {outcome.out}, run again with --allow-empty --overwrite"
    )


def _run(
    stage: Stage, rows: Iterable[Record], ctx: StageContext, progress: Progress, every: int = 1024
) -> tuple[list[Record], list[Record], int]:
    kept: list[Record] = []
    dropped: list[Record] = []
    if isinstance(stage, GlobalStage):
        produced: Iterable[Record] = stage.process_all(rows, ctx)
    else:
        produced = (
            r for batch in chunks(rows, stage.batch_size) for r in stage.process(batch, ctx)
        )
    shown = (0, 0)
    for record in produced:
        (dropped if record.rejected else kept).append(record)
        if (len(kept) + len(dropped)) % every == 0:
            shown = _advance(progress, stage.label, shown, len(kept) + len(dropped), len(kept))
    _advance(progress, stage.label, shown, len(kept) + len(dropped), len(kept))
    return kept, dropped, len(kept) + len(dropped)


def _advance(
    progress: Progress, label: str, shown: tuple[int, int], seen: int, kept: int
) -> tuple[int, int]:
    progress.advance(label, seen - shown[0], kept - shown[1])
    return seen, kept


def _stage_report(
    seen: int, kept: list[Record], dropped: list[Record], ctx: StageContext, seconds: float
) -> dict[str, Any]:
    reasons = Counter(r.meta.rejection.reason for r in dropped if r.meta.rejection)
    return {
        "rows_in": seen,
        "rows_out": len(kept),
        "rejected": dict(reasons.most_common()),
        TRANSIENT: sum(1 for r in dropped if r.meta.rejection and r.meta.rejection.transient),
        "counters": dict(ctx.counters),
        "seconds": round(seconds, 3),
    }
