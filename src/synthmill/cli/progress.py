"""Progress of the long commands: rich bars on a terminal; plain lines every 10 s otherwise.

When the output is not a terminal (a log file, CI, nohup) rich draws nothing until the
end, so a stopped run and a slow one look the same. There, a line per active stage is
printed every `interval` seconds (rows in, kept, rate, ETA, elapsed), and one when each
stage starts and when the command ends.

Only the source knows how many rows it makes. Every later stage's total is estimated from
the stage before it (its total times the share it has kept so far), which is exact once
that stage is done, so a global stage such as dedup.exact has a true total and an ETA.
A stage's clock starts when the rows it gets began to be worked on (the last progress of
any stage before its first), so a global stage that starts late shows its own rate.
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
        self.last: dict[str, float] = {}  # when each stage last advanced
        self.last_move = clock()  # when any stage last advanced
        self.reported: dict[str, int] = {}
        self.started = clock()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> RichProgress:
        self.started = self.last_move = self.clock()
        if not self.lines:
            self.bars.start()
            return self
        self._ticker = threading.Thread(target=self._tick, name="progress-lines", daemon=True)
        self._ticker.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if not self.lines:
            self.bars.stop()
            return
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
        self.emit(final=True, stopped=kind is not None)  # an error or Ctrl-C: not "done"

    def stage_started(self, stage: str, total: int | None) -> None:
        with self._lock:
            self.kept[stage] = 0
            self.seen[stage] = 0
            self.totals[stage] = total
            self.tasks[stage] = self.bars.add_task(stage, total=total, kept=0, rate="-")
        if self.lines:
            expected = "" if total is None else f" ({total:,} rows expected)"
            self._write(f"stage {stage} started{expected}")

    def advance(self, stage: str, rows_in: int, rows_out: int) -> None:
        with self._lock:
            now = self.clock()
            self.begun.setdefault(stage, self.last_move)
            self.last_move = self.last[stage] = now
            self.kept[stage] += rows_out
            self.seen[stage] += rows_in
            task_id = self.tasks[stage]
            self.bars.advance(task_id, rows_in)
            rate = self._rate(stage)
            total = self.expected(stage)
            self.bars.update(task_id, kept=self.kept[stage], rate=_rate_text(rate), total=total)

    def expected(self, stage: str) -> int | None:
        """Rows `stage` will get: its own total, else estimated from the stages before it."""
        estimate: float | None = None
        for name in self.seen:  # in the order the stages started
            own = self.totals[name]
            if own is not None:
                estimate = own
            if name == stage:
                return None if estimate is None else round(estimate)
            if estimate is not None:
                seen = self.seen[name]
                estimate = estimate * self.kept[name] / seen if seen else None
        return None

    def _rate(self, stage: str) -> float:
        """Rows in per second, from when the stage began to its last progress."""
        took = self._elapsed(stage)
        return self.seen[stage] / took if took > 1e-6 else 0.0

    def _elapsed(self, stage: str) -> float:
        return self.last.get(stage, 0.0) - self.begun.get(stage, 0.0)

    def note(self, message: str) -> None:
        if self.lines:
            self._write(message)
        else:
            self.bars.console.log(message)

    # ---- line mode -------------------------------------------------------------------------
    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self.emit()

    def emit(self, final: bool = False, stopped: bool = False) -> None:
        """One line per stage: rows in (of its total), kept, rows/s, ETA (not when final),
        and the time from its first rows to its last."""
        with self._lock:
            stages = [
                (s, self.seen[s], self.kept[s], self.expected(s), self._rate(s)) for s in self.seen
            ]
        if not final:  # only stages that moved; a still line when none did
            stages = [x for x in stages if x[1] != self.reported.get(x[0])]
            if not stages:
                self._write(f"working: no new rows in the last {self.interval:g} s")
                return
        self.reported |= {s: seen for s, seen, *_ in stages}
        for stage, seen, kept, total, rate in stages:
            elapsed = self._elapsed(stage)
            of = f"/{total:,}" if total is not None else ""
            word = ("stopped" if stopped else "done") if final else "progress"
            eta = "" if final else f", eta {_eta(seen, total, rate)}"
            self._write(
                f"{word} {stage}: {seen:,}{of} rows in, {kept:,} kept, "
                f"{_rate_text(rate)} rows/s{eta}, {_clock(elapsed)} elapsed"
            )

    def _write(self, line: str) -> None:
        stamp = _clock(self.clock() - self.started)
        self.console.file.write(f"[{stamp}] {line}\n")
        self.console.file.flush()


def _rate_text(rate: float) -> str:
    if rate <= 0:
        return "-"
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:.3g}"


def _eta(seen: int, total: int | None, rate: float) -> str:
    """Time left at the current rate; `?` while the total or the rate is unknown."""
    if total is None or rate <= 0:
        return "?"
    return _clock(max(total - seen, 0) / rate)


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
