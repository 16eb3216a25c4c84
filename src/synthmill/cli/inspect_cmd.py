"""`synthmill inspect RUN_DIR`: stages, counts, reject reasons, timings, config, samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from synthmill.errors import RunDirError
from synthmill.inspect import RunSummary, summarize
from synthmill.pipeline.rundir import RunDir


def inspect(
    run_dir: Path = typer.Argument(..., help="A run directory written by synthmill run."),
    rows: int = typer.Option(3, "--rows", "-n", min=0, help="How many sample rows to show."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Show what is in a run: stages, rows kept and rejected per reason, config, samples."""
    if not (run_dir / "config.yaml").is_file():
        raise RunDirError(f"{run_dir} is not a synthmill run directory (no config.yaml)")
    summary = summarize(run_dir, rows)
    if summary.status == "running" and not RunDir(run_dir).is_locked():
        summary.status = "stopped (killed before it finished; run it again to resume)"
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2, default=str))
        return
    _render(Console(), summary)


def _render(console: Console, s: RunSummary) -> None:
    console.rule(f"[bold]{s.name}[/] — {s.root}")
    console.print(
        f"status: [bold]{s.status}[/]; rows: {s.rows}; origin: {s.origin}; attempts: {s.attempts}"
    )
    console.print(_stage_table(s.stages))
    for label, st in s.stages.items():
        for reason, n in st.get("rejected", {}).items():
            console.print(f"  [red]{label}[/] rejected {n}: {reason}")
        if st.get("counters"):
            counters = ", ".join(f"{k}={v}" for k, v in st["counters"].items())
            console.print(f"  [cyan]{label}[/] counters: {counters}")
    for label, st in s.stages.items():
        if st.get("summary"):
            console.print(f"[bold]{label}[/] summary:")
            console.print_json(json.dumps(st["summary"]))
    console.print(Syntax(s.config_yaml, "yaml", theme="ansi_dark"))
    for row in s.samples:
        console.print_json(json.dumps(row, default=str, ensure_ascii=False))


def _stage_table(stages: dict[str, dict[str, Any]]) -> Table:
    table = Table("stage", "rows in", "kept", "rejected", "seconds", "rows/s")
    for label, st in stages.items():
        secs = st.get("seconds", 0.0)
        rate = f"{st['rows_in'] / secs:.1f}" if secs else "-"
        table.add_row(
            label,
            str(st["rows_in"]),
            str(st["rows_out"]),
            str(st.get("rejected_total", 0)),
            f"{secs:.2f}",
            rate,
        )
    return table


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect)
