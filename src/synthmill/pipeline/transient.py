"""Rows rejected for transient reasons are not final: the next run retries them.

A rejection is transient when the model call failed for a reason a later run may not meet
(timeout, 5xx, an outage); Record.reject marks it, StageStats counts it per stage, and the
shard markers keep the count. At the start of every run, `reopen` unmarks each finished
shard that holds transient rejects, and everything computed from it downstream, so those
shards are redone: the calls that succeeded come back from the response cache (nothing is
paid twice) and the failed ones are made again. Content rejects (filters, schema
failures after repair) stay final.

A run whose share of transient rejects at some stage exceeds `max_failed_share` ends
with TransientFailuresError (exit code 3) after everything it has is written.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from synthmill.errors import SynthmillError
from synthmill.io.atomic import write_text_atomic
from synthmill.pipeline.rundir import RunDir
from synthmill.pipeline.stage import GlobalStage, Stage

RUN_ID_FILE = "run-id"
TRANSIENT = "rejected_transient"  # the per-stage count in shard markers and stats.json


class TransientFailuresError(SynthmillError, RuntimeError):
    """Too many rows failed for transient reasons; what was kept is written. Exit code 3."""

    exit_code: ClassVar[int] = 3


def run_id(rd: RunDir) -> str:
    """This run directory's id (made once, kept across resumes, new after --overwrite).

    The response cache records it as the payer of each call, so a resumed run counts
    what its killed attempts paid for.
    """
    path = rd.root / "work" / RUN_ID_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = uuid.uuid4().hex
    write_text_atomic(path, value + "\n")
    return value


def transient_count(marker: dict[str, Any] | None) -> int:
    """Rows rejected for transient reasons, summed over a marker's stages."""
    if not marker:
        return 0
    return sum(int(s.get(TRANSIENT, 0)) for s in marker.get("stages", {}).values())


@dataclass
class Reopen:
    """What to redo: shard markers to remove, and the first segment to redo in full."""

    shards: list[tuple[int, int]]
    from_segment: int | None = None

    def __bool__(self) -> bool:
        return bool(self.shards) or self.from_segment is not None


def plan_reopen(rd: RunDir, segments: list[list[Stage]]) -> Reopen:
    """The shards holding transient rejects, and every shard computed from them."""
    reopen = Reopen([])
    upstream: set[int] = set()  # shards of the previous local segment being redone
    for k, segment in enumerate(segments):
        if isinstance(segment[0], GlobalStage):
            if upstream or transient_count(rd.read_json(rd.segment_marker(k))):
                reopen.from_segment = k
                return reopen
            upstream = set()
            continue
        mine = {_shard_index(m) for m in rd.shards_done(k) if transient_count(rd.read_json(m))}
        upstream = mine | upstream
        reopen.shards.extend((k, i) for i in sorted(upstream))
    return reopen


def reopen(rd: RunDir, segments: list[list[Stage]]) -> Reopen:
    """Unmark what must be redone, downstream first, so a kill half-way loses nothing."""
    todo = plan_reopen(rd, segments)
    if todo.from_segment is not None:
        for k in reversed(range(todo.from_segment, len(segments))):
            _drop_segment(rd, k)
    for k, i in sorted(todo.shards, reverse=True):
        rd.segment_marker(k).unlink(missing_ok=True)
        rd.shard_marker(k, i).unlink(missing_ok=True)
    return todo


def _drop_segment(rd: RunDir, k: int) -> None:
    rd.segment_marker(k).unlink(missing_ok=True)
    shutil.rmtree(rd.segment_dir(k), ignore_errors=True)
    for stale in (rd.root / "rejects").glob(f"*/seg-{k:02d}-shard-*.jsonl"):
        stale.unlink()


def _shard_index(marker: Path) -> int:
    return int(marker.name.split("-")[1].split(".")[0])


def check_failed_share(
    stats: dict[str, Any],
    max_share: float,
    written: Path,
    retry: str = "run the same command again to retry the failed rows",
) -> None:
    """Raise TransientFailuresError when a stage's transient share exceeds max_share."""
    for label, stage in stats["stages"].items():
        failed, rows_in = int(stage.get(TRANSIENT, 0)), int(stage.get("rows_in", 0))
        if rows_in and failed / rows_in > max_share:
            raise TransientFailuresError(
                f"{failed} of {rows_in} rows ({failed / rows_in:.1%}) at stage {label!r} failed "
                f"for transient reasons (model calls that timed out or failed), more than "
                f"max_failed_share={max_share:g}; the {stats['rows']} rows kept are written "
                f"to {written}; {retry}"
            )
