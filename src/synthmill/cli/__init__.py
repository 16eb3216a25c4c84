"""The synthmill command line: one module per command, errors in one line.

A command's module is imported only when that command runs, so `synthmill --help`,
`--version` and tab completion of command names start at once. To add a command, write
`cli/NAME_cmd.py` with a `register(app)` function and add its line to COMMANDS below.
"""

from __future__ import annotations

import importlib
import logging
import signal
import sys
import threading
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

from synthmill.errors import SynthmillError, describe_exception, describe_os_error

# A command is one line: its name, the module whose `register(app)` adds it (a command or
# a command group), and the one-line help `synthmill --help` lists (a test checks that it
# matches the command's own). The module is imported only when its command is used.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": (
        "synthmill.cli.run_cmd",
        "Run a pipeline. Run it again after a crash or kill to resume where it stopped.",
    ),
    "collapse": (
        "synthmill.cli.collapse_cmd",
        "The collapse lab: train models on their own output and watch the tails go.",
    ),
    "mix": (
        "synthmill.cli.mix_cmd",
        "Mix real and synthetic rows by policy, share and budget; every row keeps its lineage.",
    ),
    "inspect": (
        "synthmill.cli.inspect_cmd",
        "Show what is in a run: stages, rows kept and rejected per reason, config, samples.",
    ),
    "stages": (
        "synthmill.cli.stages_cmd",
        "List installed stages (built-in and plugins) with their options.",
    ),
    "dedup": (
        "synthmill.cli.dedup_cmd",
        "Remove duplicate rows; each removed row names the kept row it duplicated.",
    ),
    "export": (
        "synthmill.cli.export_cmd",
        "Export a finished run as training data (JSONL, or Parquet by the --out suffix).",
    ),
    "decontaminate": (
        "synthmill.cli.decontaminate_cmd",
        "Remove rows that overlap benchmark items (n-grams; rephrasings with --semantic).",
    ),
    "filter": (
        "synthmill.cli.filter_cmd",
        "Drop rows failing heuristic quality rules or in unwanted languages.",
    ),
    "measure": (
        "synthmill.cli.measure_cmd",
        "Print distinct-n, entropy, compression, self-BLEU, cosine, Vendi and cluster metrics.",
    ),
    "tabular": (
        "synthmill.cli.tabular_cmd",
        "Synthesize tables (Gaussian copula, differentially private MST, deep TabularARGN) "
        "and measure fidelity, utility and privacy.",
    ),
    "report": (
        "synthmill.cli.report_cmd",
        "Write an offline HTML report of a run: funnel, columns, cost, rows and more.",
    ),
    "evaluate": (
        "synthmill.cli.evaluate_cmd",
        "Fine-tune the embedded model on the data (LoRA) and measure held-out real loss.",
    ),
    "batch": (
        "synthmill.cli.batch_cmd",
        "Offline batch files: export a run's pending model calls as OpenAI Batch API JSONL "
        "(what vLLM's run_batch reads), import the replies into the cache.",
    ),
}


class LazyGroup(TyperGroup):
    """The root command: a command's module is imported when that command is used.

    Drawing `synthmill --help` and completing a command name need only the names and
    one-line helps in COMMANDS, so they import nothing else.
    """

    listing = False  # True while the root help is drawn or a command name is completed

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        for name, (_, line) in COMMANDS.items():  # stand-ins: a name and its help
            self.commands.setdefault(name, TyperCommand(name, help=line))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in COMMANDS and not self.listing:
            return load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        for param in self.get_params(ctx):
            plain(param)
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False

    def shell_complete(self, ctx: Any, incomplete: str) -> Any:
        self.listing = True
        try:
            return super().shell_complete(ctx, incomplete)
        finally:
            self.listing = False


_LOADED: dict[str, Any] = {}


def load(name: str) -> Any:
    """Import one command's module and build its command (or command group)."""
    if name not in _LOADED:
        holder = typer.Typer()
        holder.callback()(lambda: None)  # a group, so that the command keeps its name
        importlib.import_module(COMMANDS[name][0]).register(holder)
        _LOADED[name] = tidy(typer.main.get_group(holder).commands[name])
    return _LOADED[name]


class Argument(TyperArgument):
    """An argument shown as CONFIG in usage lines (typer writes `{config}`)."""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")


def tidy(command: Any) -> Any:
    """Help as people read it: arguments in capitals (CONFIG, SRC), flags without a
    `<bool>` type; for a group, its commands too."""
    for param in command.params:
        plain(param)
    for sub in getattr(command, "commands", {}).values():
        tidy(sub)
    draw = command.format_help

    def format_help(ctx: Any, formatter: Any) -> None:
        plain(command.get_help_option(ctx))  # made when help is first drawn
        draw(ctx, formatter)

    command.format_help = format_help
    return command


def plain(param: Any) -> None:
    if isinstance(param, TyperArgument) and param.metavar is None:
        param.metavar = (param.name or "").upper()
        param.__class__ = Argument
    elif getattr(param, "is_flag", False) and param.metavar is None:
        param.metavar = ""  # typer would show <bool>


app = typer.Typer(
    cls=LazyGroup,
    name="synthmill",
    help="Make synthetic training data, verify it, curate it, and publish it with a card.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        from synthmill import __version__

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
