"""The synthmill command line: one module per command group, errors in one line."""

from __future__ import annotations

import logging
import sys

import typer

from synthmill import __version__
from synthmill.cli import (
    collapse_cmd,
    decontaminate_cmd,
    dedup_cmd,
    export_cmd,
    filter_cmd,
    inspect_cmd,
    measure_cmd,
    mix_cmd,
    run_cmd,
    stages_cmd,
)
from synthmill.errors import SynthmillError

app = typer.Typer(
    name="synthmill",
    help="Make synthetic training data, verify it, curate it, and publish it with a card.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"synthmill {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug logs."),
) -> None:
    state["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING)


run_cmd.register(app)
collapse_cmd.register(app)
mix_cmd.register(app)
inspect_cmd.register(app)
stages_cmd.register(app)
dedup_cmd.register(app)
export_cmd.register(app)
decontaminate_cmd.register(app)
filter_cmd.register(app)
measure_cmd.register(app)


def main() -> None:
    """Entry point: SynthmillError becomes one line on stderr and exit code 2.

    Usage errors (unknown option, bad value) are typer's own: usage line, exit code 2.
    """
    try:
        app()
    except SynthmillError as exc:
        if state["debug"]:
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
