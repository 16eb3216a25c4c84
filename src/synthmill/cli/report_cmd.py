"""`synthmill report RUN_DIR`: one self-contained HTML file that shows a run."""

from __future__ import annotations

from pathlib import Path

import typer

from synthmill.report import DEFAULT_ROWS, build_report


def report(
    run_dir: Path = typer.Argument(..., help="A run directory, or a collapse-lab output folder."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Where to write the HTML (default: RUN_DIR/report.html)."
    ),
    reference: Path | None = typer.Option(
        None, "--reference", help="Real data (JSONL/Parquet/CSV): tail coverage and narrowing."
    ),
    rows: int = typer.Option(
        DEFAULT_ROWS, "--rows", min=1, help="Kept rows sampled into the row browser."
    ),
    seed: int = typer.Option(0, help="Seed of the row sample and the diversity measures."),
) -> None:
    """Write an offline HTML report of a run: funnel, columns, cost, rows and more.

    Sections: funnel and rejects, columns, diversity, cost, verification, tabular
    evaluation, collapse plots and a row browser.
    """
    if not run_dir.is_dir():
        from synthmill.errors import RunDirError

        raise RunDirError(f"{run_dir} is not a folder; give a run directory")
    path = build_report(run_dir, out, reference, rows, seed)
    size = path.stat().st_size
    typer.echo(f"report: {path} ({size / 1e6:.2f} MB); open it in a browser")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
