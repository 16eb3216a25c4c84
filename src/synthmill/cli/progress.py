"""Progress of the long commands: rich bars on a terminal; plain lines every 10 s otherwise.

When the output is not a terminal (a log file, CI, nohup) rich draws nothing until the
end, so a stopped run and a slow one look the same. There, a line per active stage is
printed every `interval` seconds (rows in, kept, rate, elapsed), and one when each stage
starts and when the command ends.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

INTERVAL = 10.0
INTERVAL_ENV = "SYNTHMILL_PROGRESS_SECONDS"  # another interval for the lines (tests, long jobs)


def interval_seconds() -> float:
    """$SYNTHMILL_PROGRESS_SECONDS if set to a positive number, else 10."""
    try:
        value = float(os.environ.get(INTERVAL_ENV, INTERVAL))
    except ValueError:
        return INTERVAL
    return value if value > 0 else INTERVAL


class RichProgress:
    """One bar per stage with rows in, rows kept, rate and ETA (or lines, off a terminal)."""

    def __init__(
        self,
        console: Console,
        interval: float | None = None,
        lines: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bars = Progress(
            TextColumn("[bold]{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("kept {task.fields[kept]}"),
            TextColumn("{task.fields[rate]} rows/s"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.console = console
        self.lines = not console.is_terminal if lines is None else lines
        self.interval = interval_seconds() if interval is None else interval
        self.clock = clock
        self.tasks: dict[str, TaskID] = {}
        self.kept: dict[str, int] = {}
        self.seen: dict[str, int] = {}
        self.totals: dict[str, int | None] = {}
        self.begun: dict[str, float] = {}
        self.reported: dict[str, int] = {}
        self.started = clock()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> RichProgress:
        self.started = self.clock()
        if not self.lines:
            self.bars.start()
            return self
        self._ticker = threading.Thread(target=self._tick, name="progress-lines", daemon=True)
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.lines:
            self.bars.stop()
            return
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
        self.emit(final=True)

    def stage_started(self, stage: str, total: int | None) -> None:
        with self._lock:
            self.kept[stage] = 0
            self.seen[stage] = 0
            self.totals[stage] = total
            self.begun[stage] = self.clock()
            self.tasks[stage] = self.bars.add_task(stage, total=total, kept=0, rate="-")
        if self.lines:
            expected = "" if total is None else f" ({total:,} rows expected)"
            self._write(f"stage {stage} started{expected}")

    def advance(self, stage: str, rows_in: int, rows_out: int) -> None:
        with self._lock:
            self.kept[stage] += rows_out
            self.seen[stage] += rows_in
            task_id = self.tasks[stage]
            self.bars.advance(task_id, rows_in)
            speed = self.bars.tasks[task_id].speed
            rate = f"{speed:.1f}" if speed else "-"
            self.bars.update(task_id, kept=self.kept[stage], rate=rate)

    def note(self, message: str) -> None:
        if self.lines:
            self._write(message)
        else:
            self.bars.console.log(message)

    # ---- line mode -------------------------------------------------------------------------
    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self.emit()

    def emit(self, final: bool = False) -> None:
        """One line per stage: rows in (of total), kept, rows/s since it started, elapsed."""
        now = self.clock()
        with self._lock:
            stages = [(s, self.seen[s], self.kept[s], self.totals[s]) for s in self.seen]
        if not final:  # only stages that moved; a still line when none did
            stages = [x for x in stages if x[1] != self.reported.get(x[0])]
            if not stages:
                self._write(f"working: no new rows in the last {self.interval:g} s")
                return
        self.reported |= {s: seen for s, seen, _, _ in stages}
        for stage, seen, kept, total in stages:
            elapsed = max(now - self.begun[stage], 1e-9)
            of = f"/{total:,}" if total is not None else ""
            word = "done" if final else "progress"
            self._write(
                f"{word} {stage}: {seen:,}{of} rows in, {kept:,} kept, "
                f"{seen / elapsed:.3g} rows/s, {_clock(elapsed)} elapsed"
            )

    def _write(self, line: str) -> None:
        stamp = _clock(self.clock() - self.started)
        self.console.file.write(f"[{stamp}] {line}\n")
        self.console.file.flush()


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
