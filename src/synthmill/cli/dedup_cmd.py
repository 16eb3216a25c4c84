"""`synthmill dedup IN --out OUT`: exact, MinHash or semantic deduplication of a file."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Literal

import typer
from rich.console import Console
from rich.table import Table

from synthmill.cli.progress import RichProgress
from synthmill.curate.apply import SRC_HELP, EverythingRejected, Outcome, apply, build
from synthmill.errors import ConfigError
from synthmill.pipeline.stage import Stage


class Method(str, Enum):
    exact = "exact"
    minhash = "minhash"
    semantic = "semantic"


def show(outcome: Outcome) -> None:
    """Print what each stage kept and rejected, and where the files are."""
    show_table(outcome).print(
        f"[bold green]done[/]: {outcome.rows_out} of {outcome.rows_in} rows kept in "
        f"{outcome.out}; rejects: {outcome.rejects}; stats: {outcome.stats}"
    )


def show_table(outcome: Outcome) -> Console:
    """Print what each stage kept and rejected."""
    table = Table("stage", "rows in", "kept", "rejected", "reasons")
    for label, s in outcome.stages.items():
        reasons = ", ".join(f"{r}: {n}" for r, n in s["rejected"].items())
        table.add_row(
            label, str(s["rows_in"]), str(s["rows_out"]), str(s["rows_in"] - s["rows_out"]), reasons
        )
    console = Console(stderr=True)
    console.print(table)
    return console


# --allow-empty of the file commands (filter, dedup, decontaminate): a pipeline's allow_empty.
ALLOW_EMPTY_HELP = (
    "Write an empty OUT (exit 0) when every row is rejected; without it that is exit 1, "
    "OUT is not written and the rejects say why."
)


def run(
    stages: list[Stage],
    src: Path,
    out: Path,
    seed: int,
    overwrite: bool,
    allow_empty: bool = False,
) -> Outcome:
    """apply() with rich progress bars on stderr; every row rejected shows the table, then
    fails (exit 1) unless allow_empty."""
    try:
        with RichProgress(Console(stderr=True)) as progress:
            return apply(
                stages,
                src,
                out,
                seed=seed,
                overwrite=overwrite,
                allow_empty=allow_empty,
                progress=progress,
            )
    except EverythingRejected as exc:
        show_table(exc.outcome)
        raise


def dedup(
    src: Path = typer.Argument(..., help=SRC_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Output .jsonl or .parquet file."),
    method: Method = typer.Option(Method.minhash, help="exact, minhash or semantic."),
    column: list[str] = typer.Option(["text"], "--column", "-c", help="Text column(s)."),
    threshold: float | None = typer.Option(
        None,
        help="minhash: Jaccard of the shingle sets (default 0.8); with --confirm exact no pair "
        "below it is removed and a pair at or above it is found with probability >= --recall "
        "(LSH bands and rows are chosen for that). semantic: cosine (default 0.95).",
    ),
    recall: float = typer.Option(
        0.95, help="minhash: chance that a pair at exactly --threshold is found."
    ),
    shingle: Literal["word", "char"] = typer.Option("word", help="minhash: word or char shingles."),
    shingle_size: int = typer.Option(5, help="minhash: words or characters per shingle."),
    num_perm: int = typer.Option(128, help="minhash: number of permutations."),
    confirm: Literal["estimate", "exact"] = typer.Option(
        "exact", help="minhash: confirm candidates by exact Jaccard or the MinHash estimate."
    ),
    id_column: str | None = typer.Option(
        None,
        help="duplicate_of names this column's value (default: id, where rows have it); "
        "a column the rows lack is an error.",
    ),
    memory_mb: float = typer.Option(256, help="exact: hashes kept in memory before spilling."),
    index: Literal["auto", "exact", "hnsw"] = typer.Option(
        "auto", help="semantic: neighbour search: exact, HNSW (faiss) or auto by size."
    ),
    seed: int = typer.Option(0, help="Run seed (stages draw their random numbers from it)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing OUT."),
    allow_empty: bool = typer.Option(False, "--allow-empty", help=ALLOW_EMPTY_HELP),
) -> None:
    """Remove duplicate rows; each removed row names the kept row it duplicated."""
    stage: Stage
    ids = {"id_column": id_column} if id_column else {}
    if method is Method.exact:
        from synthmill.curate.exact_dedup import ExactDedup

        if threshold is not None:
            raise ConfigError(
                "--threshold does not apply to --method exact (it removes identical texts only); "
                "drop it, or use --method minhash for near-duplicates"
            )

        stage = build(ExactDedup, {"columns": column, "memory_mb": memory_mb} | ids)
    elif method is Method.minhash:
        from synthmill.curate.minhash_dedup import MinHashDedup

        stage = build(
            MinHashDedup,
            {
                "columns": column,
                "shingle": shingle,
                "shingle_size": shingle_size,
                "num_perm": num_perm,
                "confirm": confirm,
                "recall": recall,
            }
            | ids
            | ({"threshold": threshold} if threshold is not None else {}),
        )
    else:
        from synthmill.curate.semantic_dedup import SemanticDedup

        stage = build(
            SemanticDedup,
            {"columns": column, "index": index}
            | ids
            | ({"threshold": threshold} if threshold is not None else {}),
        )
    show(run([stage], src, out, seed, overwrite, allow_empty))


def register(app: typer.Typer) -> None:
    app.command("dedup")(dedup)
