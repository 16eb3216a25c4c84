"""`synthmill tabular`: synthesize a table from a real one, and evaluate synthetic tables.

`synthesize` runs a pipeline (`read` -> `tabular.synthesize`) into a run directory, so a
synthetic table gets the same Parquet, card, provenance and resume as every dataset.
Heavy imports (scipy, scikit-learn) wait until a command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from synthmill.errors import MissingExtraError

tabular = typer.Typer(
    help="Synthesize tables (Gaussian copula, differentially private MST, deep TabularARGN) "
    "and measure fidelity, utility and privacy.",
    no_args_is_help=True,
)


def _require() -> None:
    for module, package in (("scipy", "scipy"), ("sklearn", "scikit-learn")):
        try:
            __import__(module)
        except ImportError:
            raise MissingExtraError(package, "tabular") from None


@tabular.command("synthesize")
def synthesize(
    real: Path = typer.Argument(..., help="Real table: a .csv or .parquet file."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory to write."),
    method: str = typer.Option(
        "copula",
        help="Synthesizer: copula (Gaussian copula), dp (differentially private, "
        "smartnoise-synth MST/AIM) or argn (deep autoregressive, mostlyai-engine TabularARGN).",
    ),
    rows: int | None = typer.Option(
        None, min=1, help="Rows to make (default: as many as trained on)."
    ),
    seed: int = typer.Option(0, help="Seed of the holdout split, the fit and the sample."),
    target: str | None = typer.Option(
        None, help="Column to predict: stratifies, conditions, scores TSTR."
    ),
    holdout: float = typer.Option(
        0.2, help="Share of real rows kept out of the fit for evaluation."
    ),
    epsilon: float | None = typer.Option(
        None, help="dp: privacy budget epsilon, in total (default 1.0)."
    ),
    delta: float | None = typer.Option(
        None, help="dp: delta (default 1 / (n * sqrt(n)) for n training rows)."
    ),
    dp_mechanism: str | None = typer.Option(
        None, help="dp: smartnoise-synth mechanism, mst (default) or aim."
    ),
    bounds: str | None = typer.Option(
        None,
        help="dp: public bounds of numeric columns, 'age=18:100,amount=0:20000' (no epsilon "
        "spent); columns not named go on a public power-of-two grid (no bounds needed); "
        "'data' reads them from the rows, which the guarantee then does not cover.",
    ),
    epochs: float | None = typer.Option(
        None, help="argn: most training epochs (default 100, with early stopping)."
    ),
    name: str | None = typer.Option(None, help="Dataset name in the card (default: REAL's name)."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace a run directory of other options."
    ),
) -> None:
    """Hold out real rows, fit, sample, evaluate; write Parquet, card and evaluation.json."""
    _require()
    from synthmill.cli.run_cmd import execute
    from synthmill.pipeline.pipeline import Pipeline
    from synthmill.tabular import run
    from synthmill.tabular.dp import parse_bounds
    from synthmill.tabular.table import read_table

    given = {"--epsilon": epsilon, "--delta": delta, "--dp-mechanism": dp_mechanism}
    given |= {"--bounds": bounds}
    _only_for(method, "dp", given)
    _only_for(method, "argn", {"--epochs": epochs})
    parsed = parse_bounds(bounds) if method == "dp" else None
    epsilon = 1.0 if epsilon is None else epsilon
    dp_mechanism = dp_mechanism or "mst"
    run.check_method(method, run.Options(epsilon, delta, dp_mechanism, parsed, epochs))
    run.check(read_table(real), target, holdout, seed)
    report = out.absolute() / "evaluation.json"
    stage: dict[str, Any] = {"use": "tabular.synthesize", "method": method, "holdout": holdout}
    stage |= {k: v for k, v in (("rows", rows), ("target", target)) if v is not None}
    if method == "dp":
        stage |= {"epsilon": epsilon, "dp_mechanism": dp_mechanism}
        stage |= {k: v for k, v in (("delta", delta), ("bounds", parsed)) if v is not None}
    if method == "argn" and epochs is not None:
        stage["epochs"] = epochs
    config = {
        "name": name or f"{real.stem}-synthetic",
        "seed": seed,
        "shard_size": 10_000,
        "stages": [{"use": "read", "path": str(real)}, {**stage, "evaluation": str(report)}],
        "output": {"dir": str(out)},
    }
    execute(Pipeline.from_config(config), overwrite, lambda r: f"{r.rows} synthetic rows")
    result = json.loads(report.read_text(encoding="utf-8"))
    guarantee = result.get("privacy_guarantee")
    if guarantee:
        typer.echo(
            f"differential privacy: epsilon {guarantee['epsilon']:g}, "
            f"delta {guarantee['delta']:.3g} ({guarantee['mechanism']}, {guarantee['library']})"
        )
        if guarantee.get("not_located"):  # the run is made, but say where it may be noise
            typer.echo(
                f"warning: NOT located under DP: {guarantee['not_located']} "
                "(give --bounds col=lo:hi or a larger --epsilon)",
                err=True,
            )
    _show(result["evaluation"], Console())


def _only_for(method: str, owner: str, options: dict[str, Any]) -> None:
    """Options of another method are an error, not silently ignored."""
    from synthmill.errors import ConfigError
    from synthmill.tabular.run import METHODS

    given = [name for name, value in options.items() if value is not None]
    if given and method != owner and method in METHODS:
        raise ConfigError(f"{', '.join(given)} is for --method {owner}, not {method}")


def _show(ev: dict[str, Any], console: Console) -> None:
    from synthmill.tabular.evaluation import headline

    table = Table("metric", "value", title="evaluation")
    for key, value in headline(ev).items():
        table.add_row(
            key,
            "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value),
        )
    console.print(table)
    columns = Table("column", "kind", "shape (1-KS / 1-TVD)")
    shapes = ev["fidelity"]["columns"]
    for name, col in ev["columns"].items():
        shape = shapes.get(name)
        columns.add_row(name, col["kind"], "-" if shape is None else f"{shape:.4f}")
    console.print(columns)
    for note in ev["notes"]:
        console.print(f"note: {note}")


@tabular.command("evaluate")
def evaluate(
    real: Path = typer.Option(..., "--real", help="Real rows the synthesizer was trained on."),
    synthetic: Path = typer.Option(..., "--synthetic", help="Synthetic table or run directory."),
    holdout: Path | None = typer.Option(None, "--holdout", help="Real rows kept out of training."),
    target: str | None = typer.Option(
        None, help="Column to predict for TSTR/TRTR (needs --holdout)."
    ),
    seed: int = typer.Option(0, help="Seed of subsampling and models."),
    as_json: bool = typer.Option(False, "--json", help="Print the evaluation as JSON."),
) -> None:
    """Fidelity, detection AUC, TSTR vs TRTR, exact copies, DCR share and MIA AUC."""
    _require()
    from synthmill.tabular.evaluation import evaluate as run_evaluation
    from synthmill.tabular.table import read_table

    hold = read_table(holdout) if holdout is not None else None
    ev = run_evaluation(read_table(real), read_table(synthetic), hold, target, seed)
    if as_json:
        typer.echo(json.dumps(ev, indent=2, default=str))
    else:
        _show(ev, Console())


def register(app: typer.Typer) -> None:
    app.add_typer(tabular, name="tabular")
