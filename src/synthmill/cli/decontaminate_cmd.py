"""`synthmill decontaminate IN --out OUT`: drop rows that overlap benchmark test sets."""

from __future__ import annotations

from pathlib import Path

import typer

from synthmill.cli.dedup_cmd import run, show
from synthmill.curate.apply import build
from synthmill.curate.decontaminate import Decontaminate


def decontaminate(
    src: Path = typer.Argument(..., help="Input JSONL or Parquet file."),
    out: Path = typer.Option(..., "--out", "-o", help="Output .jsonl or .parquet file."),
    benchmark: list[str] = typer.Option(
        [], "--benchmark", "-b", help="Built-in test set (humaneval); repeatable."
    ),
    benchmark_file: list[Path] = typer.Option(
        [], "--benchmark-file", help="A JSONL/Parquet test set of your own; repeatable."
    ),
    benchmark_column: list[str] = typer.Option(
        ["text"], "--benchmark-column", help="Text column(s) of the benchmark files."
    ),
    benchmark_id: str | None = typer.Option(None, help="Item id column of benchmark files."),
    column: list[str] = typer.Option(["text"], "--column", "-c", help="Text column(s) checked."),
    n: int = typer.Option(13, "--n", help="n-gram length in words."),
    min_matches: int = typer.Option(1, help="Shared n-grams that make a row contaminated."),
    seed: int = typer.Option(0, help="Run seed (stages draw their random numbers from it)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing OUT."),
) -> None:
    """Remove rows sharing n-grams with benchmark items; the rejects say which item matched."""
    benches: list[dict[str, object]] = [{"name": b} for b in benchmark]
    benches += [
        {"name": f.stem, "path": str(f), "columns": benchmark_column, "id_column": benchmark_id}
        for f in benchmark_file
    ]
    options = {
        "columns": column,
        "benchmarks": benches or [{"name": "humaneval"}],
        "n": n,
        "min_matches": min_matches,
    }
    stage = build(Decontaminate, options)
    show(run([stage], src, out, seed, overwrite))


def register(app: typer.Typer) -> None:
    app.command("decontaminate")(decontaminate)
