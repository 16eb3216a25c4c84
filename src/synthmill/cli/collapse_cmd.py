"""`synthmill collapse run`: recursive-training experiments, written as JSON and PNG plots."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from synthmill.collapse.experiment import DEFAULT_N, FAMILIES, run_experiment
from synthmill.collapse.policies import POLICIES, check_policies
from synthmill.errors import ConfigError

FAMILY_HELP = f"Model family to run (repeatable): {', '.join(FAMILIES)}."
POLICY_HELP = f"Training policy (repeatable): {', '.join(POLICIES)}."
app = typer.Typer(
    help="The collapse lab: train models on their own output and watch the tails go.",
    no_args_is_help=True,
)


@app.command("run")
def run(
    family: list[str] = typer.Option([], "--family", "-f", help=FAMILY_HELP),
    policy: list[str] = typer.Option([], "--policy", "-p", help=POLICY_HELP),
    generations: int = typer.Option(5, "--generations", "-g", help="Generations after gen 0."),
    seeds: int = typer.Option(3, "--seeds", "-s", help="Independent chains per policy."),
    scale: float = typer.Option(
        1.0, "--scale", help="Multiply every family's rows per generation (larger, slower)."
    ),
    real_fraction: float = typer.Option(
        0.2, "--real-fraction", help="Share of real rows kept each generation by keep-real."
    ),
    out: Path = typer.Option(
        Path("runs/collapse"), "--out", "-o", help="Folder for collapse.json and FAMILY.png."
    ),
    no_plots: bool = typer.Option(False, "--no-plots", help="Write only the JSON."),
) -> None:
    """Run families x policies x seeds for some generations; all families by default."""
    families = family or list(FAMILIES)
    policies = check_policies(policy or list(POLICIES))
    for name in families:  # fail before any work is done
        if name not in FAMILIES:
            raise ConfigError(f"unknown family {name!r}; use one of {', '.join(FAMILIES)}")
    console = Console(stderr=True)
    total = len(families) * len(policies) * seeds
    with Progress(
        "[bold]collapse lab", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console,
    ) as bars:  # fmt: skip
        task = bars.add_task("chains", total=total)
        results = run_experiment(
            families, out, policies, generations, seeds, scale, real_fraction,
            plots=not no_plots, on_chain=lambda: bars.advance(task),
        )  # fmt: skip
    console.print(_table(results, generations))
    console.print(f"[bold green]done[/]: {out / 'collapse.json'}" + _plots(results, out))


def _headline(summary: dict[str, Any]) -> str:
    keys = [k for k in summary if isinstance(summary[k], dict) and not k.startswith("theory_")]
    keys = [k for k in keys if k not in ("train_size",)][:4]
    return ", ".join(f"{k} {summary[k]['median']:.3g}" for k in keys)


def _table(results: dict[str, Any], generations: int) -> Table:
    table = Table("family", "policy", f"generation {generations}: median over seeds", "seconds")
    for name, res in results["families"].items():
        for entry in res["summary"]:
            if entry["generation"] == generations:
                table.add_row(name, entry["policy"], _headline(entry), f"{res['seconds']:.1f}")
    return table


def _plots(results: dict[str, Any], out: Path) -> str:
    names = [res["plot"] for res in results["families"].values() if "plot" in res]
    return f"; plots: {', '.join(str(out / n) for n in names)}" if names else ""


@app.command("families")
def families() -> None:
    """List the model families and their rows per generation at scale 1."""
    table = Table("family", "rows per generation", "what it shows")
    for name, make in FAMILIES.items():
        module = sys.modules[type(make(DEFAULT_N[name])).__module__]
        doc = (module.__doc__ or "").strip().splitlines()[0]
        table.add_row(name, str(DEFAULT_N[name]), doc)
    Console().print(table)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="collapse")
