"""The synthmill command line: one module per command group, errors in one line."""

from __future__ import annotations

import logging
import signal
import sys
import threading

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
    report_cmd,
    run_cmd,
    stages_cmd,
    tabular_cmd,
)
from synthmill.errors import SynthmillError, describe_exception, describe_os_error

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
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s: %(message)s" if debug else "warning: %(message)s",
    )


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
tabular_cmd.register(app)
report_cmd.register(app)


def main() -> None:
    """Entry point: every error becomes one line on stderr and a meaningful exit code.

    SynthmillError: its exit_code (2 bad config or input, 1 a run that stopped part-way);
    an OSError (disk full, read-only folder): 1; anything else: 1 with the exception's
    type. `--debug` keeps the traceback. Usage errors (unknown option) are typer's own.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    try:
        app()
    except SynthmillError as exc:
        _fail(exc, str(exc), exc.exit_code)
    except OSError as exc:
        _fail(exc, describe_os_error(exc), 1)
    except Terminated as exc:
        _fail(exc, "terminated (SIGTERM); run the same command again to resume", 143)
    except Exception as exc:  # a bug or an unforeseen fault: still one line, no traceback
        _fail(exc, f"{describe_exception(exc)}; run with --debug for the traceback", 1)


class Terminated(BaseException):
    """SIGTERM, raised so a run records `status: failed` on its way out (Ctrl-C is
    typer's own: exit 130)."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def _fail(exc: BaseException, message: str, code: int) -> None:
    """Print `error: message` on one line and exit; with --debug raise with the traceback."""
    if state["debug"]:
        raise exc
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(code)
