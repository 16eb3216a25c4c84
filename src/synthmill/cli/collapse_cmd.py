"""`synthmill collapse run|reproduce|families`: recursive-training experiments (JSON and PNG
plots), and the three papers' settings against their formulas."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from synthmill.collapse.experiment import (
    DEFAULT_N,
    FAMILIES,
    check_family,
    check_run,
    make_family,
    parse_params,
    run_experiment,
)
from synthmill.collapse.policies import POLICIES, Verification, check_policies
from synthmill.collapse.reproduce import PAPERS, Z, reproduce
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
    rows: int | None = typer.Option(
        None,
        "--rows",
        "-n",
        help="Rows per generation N for every chosen family (overrides --scale).",
    ),
    param: list[str] = typer.Option(
        [],
        "--param",
        "-P",
        help="A family parameter, [FAMILY.]NAME=VALUE (repeatable), e.g. estimator=mle, "
        "regression.d=20, zipf.beta=2, zipf.sizes=100,1000,10000; see `collapse families`.",
    ),
    real_fraction: float = typer.Option(
        0.2, "--real-fraction", help="Share of real rows kept each generation by keep-real."
    ),
    verify_rows: int | None = typer.Option(
        None,
        "--verify-rows",
        help="Synthetic rows the verified policy keeps per generation (default N).",
    ),
    verify_oversample: int | None = typer.Option(
        None,
        "--verify-oversample",
        help="Candidates the verifier sees per kept row (default per family).",
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
        check_family(name)
    params = parse_params(param, families)
    how = Verification(rows=verify_rows, oversample=verify_oversample)
    check_run(generations, seeds, real_fraction, scale, rows, how)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; name a folder for collapse.json and the plots")
    for name in families:  # every value is validated by building the family once
        make_family(name, scale, rows, params[name])
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
            rows=rows, params=params, verification=how,
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
    """List the model families, their rows per generation at scale 1 and parameters."""
    table = Table(
        "family", "rows per generation", "parameters (--param NAME=VALUE)", "what it shows"
    )
    for name, cls in FAMILIES.items():
        module = sys.modules[cls.__module__]
        doc = (module.__doc__ or "").strip().splitlines()[0]
        params = ", ".join(f"{k}={_show(v)}" for k, v in cls.params().items() if k != "n")
        table.add_row(name, str(DEFAULT_N[name]), params, doc)
    Console().print(table)


def _show(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


@app.command("reproduce")
def reproduce_cmd(
    paper: str = typer.Argument(..., help=f"One of: {', '.join(PAPERS)}."),
    seeds: int | None = typer.Option(
        None, "--seeds", "-s", help="Independent seeds (default per paper: about a minute)."
    ),
    quick: bool = typer.Option(
        False, "--quick", help="A tenth of the default seeds (wider errors)."
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the table as JSON here."),
) -> None:
    """Run a paper's own setting and compare with its formulas (agree: within 3 s.e.)."""
    if paper not in PAPERS:
        raise ConfigError(f"unknown paper {paper!r}; use one of {', '.join(PAPERS)}")
    if seeds is None and quick:
        seeds = max(PAPERS[paper][1] // 10, 10)
    result = reproduce(paper, seeds)
    table = Table(title=f"{paper}: {result['setting']}, {result['seeds']} seeds")
    table.add_column("quantity", no_wrap=True)
    for name in ("theory", "lab ± s.e.", f"agrees (≤{Z:g} s.e.)", "theory source"):
        table.add_column(name)
    for row in result["rows"]:
        mark = "[green]yes[/]" if row.agrees else "[red]NO[/]"
        cells = (escape(row.quantity), f"{row.theory:.4g}", f"{row.lab:.4g} ± {row.se:.2g}")
        table.add_row(*cells, mark, escape(row.source))
    console = Console(width=max(Console().width, 150))  # the sources need the room
    console.print(table)
    console.print(result["note"])
    if json_out is not None:
        rows = [r.as_dict() for r in result["rows"]]
        json_out.write_text(json.dumps({**result, "rows": rows}, indent=1), encoding="utf-8")
    if not result["agrees"]:
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="collapse")
