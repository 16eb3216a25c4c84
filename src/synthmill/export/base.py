"""What every export format shares: the column choices a user makes, and the format protocol.

A format is built once from the user's column choices and the run's columns (so a
misspelt column fails before anything is written) and then turns each row into one
output object.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import pyarrow as pa

from synthmill.errors import ConfigError
from synthmill.export.rundata import Row

MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))


@dataclass(frozen=True)
class Columns:
    """Which run columns hold what; None means the format's default or auto-detection."""

    prompt: str | None = None
    response: str | None = None
    system: str | None = None
    input: str | None = None
    chosen: str | None = None
    rejected: str | None = None
    messages: str | None = None
    answer: str | None = None

    def given(self) -> dict[str, str]:
        """The options the user set, by option name."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class Options:
    """Choices beyond columns: the docqa passage in the prompt, verl's data_source name."""

    with_context: bool = True
    data_source: str = "synthmill"


class Format(ABC):
    """Turns one row of a run into one object of the output format."""

    name: ClassVar[str]
    reads: ClassVar[frozenset[str]]  # the Columns fields this format reads
    suffix: ClassVar[str] = ".jsonl"  # the default output file type

    def __init__(
        self, columns: Columns, available: Sequence[str], options: Options | None = None
    ) -> None:
        check_columns(type(self), columns, available)
        self.options = options or Options()
        self.setup(columns, list(available))

    @abstractmethod
    def setup(self, columns: Columns, available: list[str]) -> None:
        """Resolve the columns to read, once, before any row (errors here write nothing)."""

    @abstractmethod
    def convert(self, row: Row) -> dict[str, Any]:
        """The output object for a row; raises BadRow when the row does not fit."""

    def schema(self) -> pa.Schema | None:
        """The Arrow schema of the output objects, when it is fixed (lets Parquet stream)."""
        return None

    def key(self, item: dict[str, Any]) -> str | None:
        """A key under which equal items are written once (None: keep every item)."""
        return None


def check_columns(fmt: type[Format], columns: Columns, available: Sequence[str]) -> None:
    """Each column the user named exists and is one the format reads; else one line."""
    for option, column in columns.given().items():
        if option not in fmt.reads:
            allowed = ", ".join(f"--{o}" for o in sorted(fmt.reads)) or "no column options"
            raise ConfigError(
                f"--{option} does not apply to --format {fmt.name} (it takes {allowed})"
            )
        if column not in available:
            raise ConfigError(
                f"--{option} {column!r}: no such column; the run has {', '.join(available)}"
            )


def first_present(available: Sequence[str], *names: str) -> str | None:
    """The first of `names` that is a column of the run."""
    return next((n for n in names if n in available), None)


def missing(fmt: str, what: str, available: Sequence[str], hint: str) -> ConfigError:
    """The one-line error for a format that cannot find its columns."""
    return ConfigError(
        f"--format {fmt}: cannot tell which column holds the {what} "
        f"(the run has {', '.join(available)}); {hint}"
    )
