"""The command line as a newcomer meets it: lazy start, readable help, choices, completion.

`synthmill --help` and `--version` import no command module and none of the heavy stack
(the start time itself is a bench: bench/cli_startup.py). Help shows arguments as
CONFIG / SRC and flags without a `<bool>` type; options with a fixed set of values list
them and the shell completes them; `--install-completion` / `--show-completion` work.
"""

from __future__ import annotations

import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthmill.cli import COMMANDS, app, load
from tests.conftest import REPO

HEAVY = ["numpy", "pyarrow", "pydantic", "llama_cpp", "httpx", "jinja2", "yaml"]
HEAVY += [info[0] for info in COMMANDS.values()]  # and no command module


def help_of(*args: str) -> str:
    out = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    return out.output


def test_every_command_module_is_registered_by_one_line() -> None:
    modules = {p.stem for p in (REPO / "src/synthmill/cli").glob("*_cmd.py")}
    assert modules == {m.rsplit(".", 1)[1] for m, _ in COMMANDS.values()}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_listed_help_is_the_commands_own(name: str) -> None:
    own = " ".join((load(name).help or "").strip().split("\n\n")[0].split())
    assert COMMANDS[name][1] == own, f"update COMMANDS[{name!r}] in synthmill/cli/__init__.py"
    assert COMMANDS[name][1] in " ".join(help_of().split()).replace("│", "").replace("  ", " ")


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["rnu"]])
def test_help_and_version_import_no_command_and_no_heavy_module(args: list[str]) -> None:
    heavy = [*HEAVY, "rich"] if args == ["--version"] else HEAVY  # help is drawn with rich
    if args == ["rnu"]:  # typer's usage errors take pydantic (typer._adapters)
        heavy = [m for m in heavy if m != "pydantic"]
    code = (
        "import sys\n"
        f"sys.argv = ['synthmill', *{args!r}]\n"
        "from synthmill.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
    if args == ["rnu"]:  # a typo is still told the close command, without loading any
        assert "Did you mean 'run'?" in out.stderr


def test_usage_names_arguments_in_capitals_and_flags_have_no_type() -> None:
    assert "synthmill run [OPTIONS] CONFIG" in help_of("run")
    assert "synthmill dedup [OPTIONS] SRC" in help_of("dedup")
    assert "synthmill inspect [OPTIONS] RUN_DIR [STAGE]" in help_of("inspect")
    shown = [help_of()]
    for name in COMMANDS:
        shown.append(help_of(name))
        for sub in getattr(load(name), "commands", {}):
            shown.append(help_of(name, sub))
    for text in shown:
        assert "<bool>" not in text and "{" not in text.split("\n\n", 2)[1], text[:400]
    missing = CliRunner().invoke(app, ["run"])
    assert missing.exit_code == 2 and "Missing argument 'CONFIG'" in missing.output


CHOICES = {
    ("export", "--format"): ["openai", "sharegpt", "alpaca", "messages", "dpo", "rl", "verl"],
    ("mix", "--policy"): ["accumulate", "replace"],
    ("filter", "--profile"): ["prose", "code", "math", "none"],
    ("dedup", "--method"): ["exact", "minhash", "semantic"],
}


def complete(words: str, env: dict[str, str] | None = None) -> list[str]:
    """What bash completion offers after `words` (the last word being completed)."""
    parts = words.split(" ")
    env = {**os.environ, **(env or {}), "_SYNTHMILL_COMPLETE": "complete_bash"}
    env |= {"COMP_WORDS": words, "COMP_CWORD": str(len(parts) - 1)}
    code = "import sys; sys.argv = ['synthmill']; from synthmill.cli import main; main()"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.parametrize(("command", "flag"), list(CHOICES))
def test_fixed_options_are_choices_listed_in_help_and_completed(command: str, flag: str) -> None:
    values = CHOICES[(command, flag)]
    assert "|".join(values) in help_of(command)
    assert complete(f"synthmill {command} x {flag} ") == values
    bad = CliRunner().invoke(app, [command, "x", flag, "nonsense"])
    assert bad.exit_code == 2 and "nonsense" in bad.output


def test_export_choices_are_the_export_formats() -> None:
    from synthmill.cli.export_cmd import ExportFormat
    from synthmill.export import FORMATS

    assert list(typing.get_args(ExportFormat)) == list(FORMATS)


def test_completion_of_command_names_loads_no_command() -> None:
    assert complete("synthmill ex") == ["export"]
    assert {"run", "report", "collapse"} <= set(complete("synthmill "))
    assert complete("synthmill collapse re") == ["reproduce"]


def test_shell_completion_can_be_shown_and_installed(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "SHELL": "/bin/bash"}
    command = str(Path(sys.executable).parent / "synthmill")  # the installed entry point
    shown = subprocess.run([command, "--show-completion", "bash"], env=env, capture_output=True)
    assert shown.returncode == 0 and b"_SYNTHMILL_COMPLETE=complete_bash" in shown.stdout
    done = subprocess.run([command, "--install-completion", "bash"], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    script = tmp_path / ".bash_completions/synthmill.sh"
    assert "_SYNTHMILL_COMPLETE" in script.read_text()
    assert str(script) in (tmp_path / ".bashrc").read_text()
