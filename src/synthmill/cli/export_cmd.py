"""`synthmill export RUN_DIR`: a run's rows as OpenAI chat, ShareGPT or Alpaca JSONL."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from synthmill.errors import ConfigError, RunDirError
from synthmill.export import FORMATS, Format, export


def export_cmd(
    run_dir: Path = typer.Argument(..., help="A run directory written by synthmill run."),
    fmt: str = typer.Option(
        "openai", "--format", "-f", help=f"Output format: {', '.join(FORMATS)}."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Output JSONL file; default RUN_DIR/export/FORMAT.jsonl."
    ),
    no_context: bool = typer.Option(
        False, "--no-context", help="Document QA: leave the passage out of the prompt."
    ),
    ids: bool = typer.Option(False, "--ids", help="Add each row's provenance id as 'id'."),
) -> None:
    """Export a finished run as fine-tuning data (one JSON object a line)."""
    if not (run_dir / "config.yaml").is_file():
        raise RunDirError(f"{run_dir} is not a synthmill run directory (no config.yaml)")
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: unknown format; use one of {', '.join(FORMATS)}")
    target = out or run_dir / "export" / f"{fmt}.jsonl"
    chosen: Format = fmt
    n = export(run_dir, target, chosen, with_context=not no_context, provenance=ids)
    Console(stderr=True).print(f"[bold green]exported[/] {n} rows as {fmt} to {target}")


def register(app: typer.Typer) -> None:
    app.command("export")(export_cmd)
