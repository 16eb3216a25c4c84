"""`synthmill run PIPELINE.yaml`: run or resume a pipeline, with progress bars."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import typer
from rich.console import Console

from synthmill.cli.progress import RichProgress
from synthmill.pipeline.pipeline import Pipeline
from synthmill.pipeline.runner import RunResult
from synthmill.verify.sandbox import allow_unsandboxed


def run(
    config: Path = typer.Argument(..., help="Pipeline YAML file."),
    set_: list[str] = typer.Option(
        [], "--set", help="Override a config value: stages.0.n=100, seed=3, or STAGE_NAME.key=v."
    ),
    overwrite: bool = typer.Option(
        False,
        "--overwrite",
        help="Start the run directory again (needed after the config or an input changed); "
        "never while another run holds its lock.",
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Call the model again instead of reusing cached responses."
    ),
    unsafe_no_sandbox: bool = typer.Option(
        False, "--unsafe-no-sandbox", help="Run untrusted generated code without bubblewrap."
    ),
    executor: Literal["local", "ray"] | None = typer.Option(
        None,
        "--executor",
        help="local, or ray: every shard as a Ray task (pip install synthmill\\[ray]); same rows, "
        "and a run may resume with the other one.",
    ),
    ray_address: str | None = typer.Option(
        None,
        "--ray-address",
        help="Ray cluster for --executor ray: HOST:PORT of the head (ray start --head), "
        "ray://HOST:PORT or auto; default $RAY_ADDRESS, else a local Ray for this run.",
    ),
) -> None:
    """Run a pipeline. Run it again after a crash or kill to resume where it stopped.

    Exit codes: 0 done; 2 bad config or input, or a backend server that is unreachable
    (nothing written); 1 stopped part-way (a backend that refused the first calls too;
    the run dir is kept and the same command resumes), or the stages rejected every row
    (nothing published; allow_empty: true publishes an empty dataset); 3 more than
    max_failed_share of a stage's rows failed for transient reasons (timeouts, server
    errors): the rest is written, and running the same command again retries them.
    """
    flags = [f"executor={json.dumps(executor)}"] if executor is not None else []
    if ray_address is not None:
        flags.append(f"ray_address={json.dumps(ray_address)}")
    pipeline = Pipeline.from_yaml(config, [*set_, *flags])
    if no_cache:
        pipeline = pipeline.model_copy(update={"cache": False})
    if unsafe_no_sandbox:
        allow_unsandboxed(pipeline.stages)
    execute(pipeline, overwrite, lambda r: f"{r.rows} rows")


def execute(pipeline: Pipeline, overwrite: bool, what: Callable[[RunResult], str]) -> RunResult:
    """Run with rich progress bars on stderr, then say where the data and card are."""
    console = Console(stderr=True)
    try:
        with RichProgress(console) as progress:
            try:
                result = pipeline.run(progress=progress, overwrite=overwrite)
            except BaseException:
                progress.bars.live.transient = True  # the one error line says what happened
                console.quiet = True
                raise
    except KeyboardInterrupt:  # typer would end with 130 and no word; SIGTERM says this too
        typer.echo("error: interrupted (Ctrl-C); run the same command again to resume", err=True)
        raise typer.Exit(130) from None
    console.print(
        f"[bold green]done[/]: {what(result)} in {result.root / 'data'}; "
        f"card: {result.root / 'README.md'}; inspect: synthmill inspect {result.root}"
    )
    return result


def register(app: typer.Typer) -> None:
    app.command("run")(run)
