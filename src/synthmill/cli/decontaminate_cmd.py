"""`synthmill decontaminate IN --out OUT`: drop rows that overlap benchmark test sets."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from synthmill.cli.dedup_cmd import ALLOW_EMPTY_HELP, run, show
from synthmill.curate.apply import (
    SRC_HELP,
    Outcome,
    build,
    check_out_file,
    input_files,
    side_paths,
)
from synthmill.curate.decontaminate import Decontaminate


def decontaminate(
    src: Path = typer.Argument(..., help=SRC_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Output .jsonl or .parquet file."),
    benchmark: list[str] = typer.Option(
        [], "--benchmark", "-b", help="Built-in test set (humaneval); repeatable."
    ),
    benchmark_file: list[Path] = typer.Option(
        [],
        "--benchmark-file",
        help="A JSONL/Parquet test set of your own (a file, folder or glob); repeatable.",
    ),
    benchmark_column: list[str] = typer.Option(
        ["text"], "--benchmark-column", help="Text column(s) of the benchmark files."
    ),
    benchmark_id: str | None = typer.Option(None, help="Item id column of benchmark files."),
    column: list[str] = typer.Option(["text"], "--column", "-c", help="Text column(s) checked."),
    n: int = typer.Option(13, "--n", help="n-gram length in words."),
    min_matches: int = typer.Option(1, help="Shared n-grams that make a row contaminated."),
    min_words: int = typer.Option(
        20, help="Shortest run of consecutive shared words that counts (or the whole item)."
    ),
    semantic: bool = typer.Option(
        False,
        "--semantic",
        help="Also catch rephrased items by embedding similarity (embed extra).",
    ),
    semantic_threshold: float = typer.Option(0.75, help="Cosine that makes a semantic candidate."),
    semantic_top_k: int = typer.Option(1, help="Nearest benchmark texts per row to consider."),
    judge: bool = typer.Option(
        False, "--judge", help="With --semantic: an LLM (embedded model) confirms each candidate."
    ),
    seed: int = typer.Option(0, help="Run seed (stages draw their random numbers from it)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing OUT."),
    allow_empty: bool = typer.Option(False, "--allow-empty", help=ALLOW_EMPTY_HELP),
) -> None:
    """Remove rows that overlap benchmark items (n-grams; rephrasings with --semantic).

    The rejects say which item matched and which pass caught it.
    """
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
        "min_words": min_words,
    }
    if judge and not semantic:
        raise typer.BadParameter("--judge needs --semantic", param_hint="--judge")
    if semantic:
        opts = {"threshold": semantic_threshold, "top_k": semantic_top_k, "judge": judge}
        options["semantic"] = opts
    stage = build(Decontaminate, options)
    for found in benchmark_file:  # test sets are inputs too: OUT and its side files spare them
        check_out_file(out, input_files(found, "--benchmark-file"), side_paths(out))
    outcome = run([stage], src, out, seed, overwrite, allow_empty)
    show(outcome)
    matched_items(outcome)


def matched_items(outcome: Outcome, top: int = 20) -> None:
    """Which benchmark items the removed rows overlapped, most matched first."""
    counts: Counter[tuple[str, str, str]] = Counter()
    with open(outcome.rejects, encoding="utf-8") as fh:
        for line in fh:
            raw = json.loads(line).get("raw") or {}
            key = (str(raw.get("benchmark")), str(raw.get("item")), str(raw.get("pass", "-")))
            counts[key] += 1
    if not counts:
        return
    table = Table("benchmark", "item", "pass", "rows removed", title="matched benchmark items")
    for (bench, item, how), n in counts.most_common(top):
        table.add_row(bench, item, how, str(n))
    Console(stderr=True).print(table)


def register(app: typer.Typer) -> None:
    app.command("decontaminate")(decontaminate)
