"""tests/README.md maps README claims to tests; this keeps the table true (issue 19).

Checked: every command, option, stage and file the table names exists (the real CLI,
the registered stages, the repository); every test it names exists; every `--option`
the README mentions is an option of some synthmill command (or is listed as not being
one, with the reason) and appears in the table; every `synthmill COMMAND` the README
shows and every example pipeline appear in the table.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import typer

from synthmill.cli import app
from synthmill.pipeline.registry import stage_class, stage_names
from tests.conftest import REPO

TABLE = REPO / "tests" / "README.md"
SPAN = re.compile(r"`([^`]+)`")
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
TEST = re.compile(r"(tests/[\w/]+\.py)::(\w+)")


@cache
def root() -> Any:
    group = typer.main.get_command(app)
    assert is_group(group)
    return group


def is_group(command: Any) -> bool:
    return hasattr(command, "list_commands")


def subcommands(group: Any) -> dict[str, Any]:
    """A group's real commands (the root loads each command's module only when asked)."""
    if not is_group(group):
        return {}
    ctx = group.context_class(group)
    found = {name: group.get_command(ctx, name) for name in group.list_commands(ctx)}
    return {name: cmd for name, cmd in found.items() if cmd is not None}


def resolve(words: list[str]) -> tuple[Any, list[str]]:
    """The command that `synthmill WORDS...` names, and the words after it."""
    command = root()
    while words and words[0] in subcommands(command):
        command = subcommands(command)[words[0]]
        words = words[1:]
    return command, words


def options(command: Any) -> set[str]:
    names = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    return {n for n in names if n.startswith("-")} | {"--help"}


def all_options() -> set[str]:
    found: set[str] = set()
    stack = [root()]
    while stack:
        command = stack.pop()
        found |= options(command)
        stack += subcommands(command).values()
    return found


def rows() -> list[tuple[str, str, str]]:
    """(claim, names, tests) of each row of the claim table."""
    text = TABLE.read_text()
    section = text.split("## README claims and their tests", 1)[1].split("\n## ", 1)[0]
    out = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and not set(cells[0]) <= {"-", " "} and cells[0] != "claim":
            out.append((cells[0], cells[1], cells[2]))
    return out


def not_options() -> dict[str, str]:
    """Flags the README mentions that are not synthmill options, with why."""
    section = TABLE.read_text().split("## Flags in the README that are not synthmill options", 1)[1]
    found = {}
    for line in section.split("\n## ", 1)[0].splitlines():
        match = re.match(r"- `(--[a-z0-9-]+)`: (.+)", line.strip())
        if match:
            found[match[1]] = match[2]
    return found


def check_name(name: str) -> None:
    """One backticked name of the table: a command line, a stage (option) or a file."""
    words = name.split()
    if words[0] == "synthmill":
        command, rest = resolve(words[1:])
        if command is root():  # only options of synthmill itself (--debug, --version)
            assert rest and all(w.startswith("-") for w in rest), f"{name!r}: no such command"
        known = options(command)
        for word in rest:
            assert not word.startswith("-") or word in known, f"{name!r}: {word} is not an option"
    elif words[0] == "use:":
        assert words[1] in stage_names(), f"{name!r}: no stage {words[1]!r}"
        model_fields = stage_class(words[1]).model_fields
        fields = set(model_fields) | {f.alias for f in model_fields.values() if f.alias}
        for option in words[2:]:
            assert option in fields, f"{name!r}: stage {words[1]} has no option {option!r}"
    else:
        assert (REPO / name).exists(), f"{name!r}: no such file in the repository"


def test_the_table_has_rows_and_every_name_and_test_exists() -> None:
    table = rows()
    assert len(table) >= 30
    for claim, names, tests in table:
        spans = SPAN.findall(names)
        assert spans, f"row {claim!r} names nothing"
        for name in spans:
            check_name(name)
        found = TEST.findall(tests)
        assert found, f"row {claim!r} names no test"
        for path, func in found:
            source = REPO / path
            assert source.exists(), f"{path} does not exist"
            assert re.search(rf"^def {func}\(", source.read_text(), re.M), f"{path}::{func}"


def readme() -> str:
    return (REPO / "README.md").read_text()


def table_names() -> str:
    return " ".join(names for _, names, _ in rows())


def test_every_option_the_readme_mentions_exists_and_is_in_the_table() -> None:
    mentioned = set(FLAG.findall(readme()))
    exempt = not_options()
    for flag in exempt:
        assert flag in mentioned, f"{flag} is listed as exempt but the README does not name it"
    existing = all_options()
    listed = set(FLAG.findall(table_names()))
    for flag in sorted(mentioned - set(exempt)):
        assert flag in existing, f"the README names {flag}, which no synthmill command has"
        assert flag in listed, f"the README names {flag}; add a row for it to tests/README.md"


def test_every_command_the_readme_shows_and_every_example_is_in_the_table() -> None:
    names = table_names()
    commands = subcommands(root())
    for match in re.finditer(r"synthmill ([a-z]+)(?: ([a-z]+))?", readme()):
        if match[1] not in commands:
            continue  # prose such as "synthmill makes"
        command = commands[match[1]]
        words = f"synthmill {match[1]}"
        if match[2] in subcommands(command):
            words += f" {match[2]}"
        assert f"`{words}" in names, f"the README shows {words!r}; add a row to tests/README.md"
    for example in sorted((REPO / "examples").glob("*.yaml")):
        assert f"examples/{example.name}" in names, f"{example.name} is in no row"
