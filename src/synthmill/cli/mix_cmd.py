"""`synthmill mix`: combine real and synthetic datasets into a run directory with a card."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from synthmill.cli.run_cmd import execute
from synthmill.mix import describe
from synthmill.pipeline.pipeline import Pipeline


def mix(
    real: list[str] = typer.Option([], "--real", "-r", help="Real dataset (repeatable)."),
    synthetic: list[str] = typer.Option(
        [], "--synthetic", "-s", help="Synthetic dataset, oldest generation first (repeatable)."
    ),
    generation: list[int] = typer.Option(
        [], "--generation", "-g", help="Generation of each --synthetic; default 1, 2, 3, ..."
    ),
    policy: Literal["accumulate", "replace"] = typer.Option(
        "accumulate", help="accumulate keeps every generation; replace keeps only the newest."
    ),
    share: float | None = typer.Option(
        None, "--share", help="Target share of synthetic rows, 0..1 (default: all rows)."
    ),
    budget: int | None = typer.Option(None, "--budget", help="Rows in the mix at most."),
    out: Path = typer.Option(Path("runs/mix"), "--out", "-o", help="Run directory to write."),
    name: str = typer.Option("mix", help="Dataset name in the card."),
    seed: int = typer.Option(0, help="Seed of the subsampling."),
    fmt: Literal["parquet", "jsonl"] = typer.Option(
        "parquet", "--format", help="parquet or jsonl."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace a run directory made with other options."
    ),
) -> None:
    """Mix real and synthetic rows by policy, share and budget; every row keeps its lineage."""
    stage = {
        "use": "mix",
        "real": real,
        "synthetic": synthetic,
        "generations": generation or None,
        "policy": policy,
        "synthetic_share": share,
        "budget": budget,
    }
    output = {"dir": out, "format": fmt}
    pipeline = Pipeline.from_config(
        {"name": name, "seed": seed, "stages": [stage], "output": output}
    )
    execute(pipeline, overwrite, lambda result: describe(result.stats))


def register(app: typer.Typer) -> None:
    app.command("mix")(mix)
