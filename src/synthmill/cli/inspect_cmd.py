"""`synthmill inspect RUN_DIR`: stages, counts, reject reasons, timings, config, samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from synthmill.errors import ConfigError, RunDirError
from synthmill.inspect import RunSummary, summarize


def inspect(
    run_dir: Path = typer.Argument(..., help="A run directory written by synthmill run."),
    rows: int = typer.Option(3, "--rows", "-n", min=0, help="How many sample rows to show."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    stage: str | None = typer.Argument(None, help="With --rejects: only this stage's rejects."),
    rejects: bool = typer.Option(
        False, "--rejects", help="Show a few rejected rows per reason (--rejects [STAGE])."
    ),
    row: str | None = typer.Option(None, "--row", help="Show one row (by id) and its parents."),
) -> None:
    """Show what is in a run: stages, rows kept and rejected per reason, config, samples."""
    if not (run_dir / "config.yaml").is_file():
        raise RunDirError(f"{run_dir} is not a synthmill run directory (no config.yaml)")
    if rejects or stage is not None or row is not None:
        _details(run_dir, stage, rejects, row, rows or 3, as_json)
        return
    summary = summarize(run_dir, rows)
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2, default=str))
        return
    _render(Console(), summary)


def _render(console: Console, s: RunSummary) -> None:
    console.rule(f"[bold]{s.name}[/] — {s.root}")
    console.print(
        f"status: [bold]{s.status}[/]; rows: {s.rows}; origin: {s.origin}; attempts: {s.attempts}"
    )
    if s.status in ("failed", "interrupted"):
        why = f": {escape(s.error)}" if s.error else ""
        console.print(f"[bold red]{s.status}[/]{why}; run the same command again to resume")
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


def _details(
    run_dir: Path, stage: str | None, rejects: bool, row: str | None, n: int, as_json: bool
) -> None:
    """`--rejects [STAGE]` and `--row ID`: rejected rows per reason; one row's provenance."""
    from synthmill.inspect import provenance_chain, reject_samples, row_with_id

    if stage is not None and not rejects:
        raise ConfigError(f"{stage!r}: a stage name goes with --rejects (--rejects {stage})")
    out: dict[str, Any] = {}
    if rejects:
        out["rejects"] = reject_samples(run_dir, stage, per_reason=n)
        if stage is not None and not out["rejects"]:
            raise ConfigError(f"no rejected rows of a stage {stage!r} in {run_dir}/rejects")
    if row is not None:
        found = row_with_id(run_dir, row)
        out["row"], out["parents"] = found, provenance_chain(run_dir, found)
    if as_json:
        typer.echo(json.dumps(out, indent=2, default=str, ensure_ascii=False))
        return
    _render_details(Console(), out)


def _render_details(console: Console, out: dict[str, Any]) -> None:
    for label, by_reason in out.get("rejects", {}).items():
        for reason, items in by_reason.items():
            console.rule(f"[red]{label}[/]: {reason} ({len(items)} shown)")
            for item in items:
                console.print_json(json.dumps(item, default=str, ensure_ascii=False))
    if "row" in out:
        console.rule("row")
        console.print_json(json.dumps(out["row"], default=str, ensure_ascii=False))
        for pid, parent in out["parents"].items():
            console.rule(f"parent {pid}")
            console.print_json(json.dumps(parent, default=str, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect)
