"""`synthmill export RUN_DIR`: a run's rows as SFT, preference or RL training data."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer
from rich.console import Console
from rich.markup import escape

from synthmill.cli.progress import RichProgress
from synthmill.export import Columns, ExportPlan, ExportResult, Options

# The formats of synthmill.export.FORMATS (a test keeps the two lists equal).
ExportFormat = Literal["openai", "sharegpt", "alpaca", "messages", "dpo", "rl", "verl"]
_COLUMNS = "Columns (default: recognised from the recipe that made the run)"


def _column(flag: str, what: str) -> str | None:
    return typer.Option(None, flag, help=what, rich_help_panel=_COLUMNS)  # type: ignore[no-any-return]


def export_cmd(
    run_dir: Path = typer.Argument(..., help="A run directory written by synthmill run."),
    fmt: ExportFormat = typer.Option(
        "openai",
        "--format",
        "-f",
        help="openai, sharegpt, alpaca or messages (SFT); dpo (preference pairs); "
        "rl (TRL GRPOTrainer) or verl (prompts with gold answers).",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Output .jsonl or .parquet; default RUN_DIR/export/FORMAT.jsonl (verl: .parquet).",
    ),
    prompt: str | None = _column("--prompt", "Column with the user's prompt or question."),
    response: str | None = _column("--response", "Column with the answer to train on."),
    system: str | None = _column("--system", "Column with a system prompt."),
    input_: str | None = _column("--input", "Column appended to the prompt (Alpaca's input)."),
    chosen: str | None = _column("--chosen", "dpo: column with the preferred answer."),
    rejected: str | None = _column("--rejected", "dpo: column with the worse answer."),
    messages: str | None = _column("--messages", "Column holding a whole conversation."),
    answer: str | None = _column("--answer", "rl/verl: column with the gold answer."),
    no_context: bool = typer.Option(
        False, "--no-context", help="Leave a recognised input (docqa's passage) out of the prompt."
    ),
    data_source: str = typer.Option(
        "synthmill", "--data-source", help="verl: data_source prefix (reward routing)."
    ),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Skip rows that do not fit (counted); default: stop."
    ),
    ids: bool = typer.Option(False, "--ids", help="Add each row's provenance id as 'id'."),
) -> None:
    """Export a finished run as training data (JSONL, or Parquet by the --out suffix)."""
    columns = Columns(prompt, response, system, input_, chosen, rejected, messages, answer)
    options = Options(with_context=not no_context, data_source=data_source)
    plan = ExportPlan.make(run_dir, out, fmt, columns, options)  # config errors: no bars
    with RichProgress(Console(stderr=True)) as progress:
        result = plan.write(skip_invalid=skip_invalid, provenance=ids, progress=progress)
    _report(result, fmt)


def _report(result: ExportResult, fmt: str) -> None:
    console = Console(stderr=True)
    console.print(
        f"[bold green]exported[/] {result.rows} rows as {fmt} to {escape(str(result.path))}"
    )
    if result.merged:
        console.print(f"merged {result.merged} rows repeating a prompt already written")
    if result.skipped:
        reasons = ", ".join(f"{reason} ({n})" for reason, n in result.skipped.most_common())
        total = sum(result.skipped.values())
        console.print(f"[bold yellow]skipped[/] {total} rows: {escape(reasons)}")
        console.print(f"  first: {escape(result.first_skip)}")


def register(app: typer.Typer) -> None:
    app.command("export")(export_cmd)
