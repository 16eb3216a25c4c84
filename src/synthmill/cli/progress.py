"""Rich progress bars: one per stage, with rows in, rows kept, rate and ETA."""

from __future__ import annotations

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


class RichProgress:
    def __init__(self, console: Console) -> None:
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
        self.tasks: dict[str, TaskID] = {}
        self.kept: dict[str, int] = {}

    def __enter__(self) -> RichProgress:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def stage_started(self, stage: str, total: int | None) -> None:
        self.kept[stage] = 0
        self.tasks[stage] = self.bars.add_task(stage, total=total, kept=0, rate="-")

    def advance(self, stage: str, rows_in: int, rows_out: int) -> None:
        self.kept[stage] += rows_out
        task_id = self.tasks[stage]
        self.bars.advance(task_id, rows_in)
        speed = self.bars.tasks[task_id].speed
        rate = f"{speed:.1f}" if speed else "-"
        self.bars.update(task_id, kept=self.kept[stage], rate=rate)

    def note(self, message: str) -> None:
        self.bars.console.log(message)
