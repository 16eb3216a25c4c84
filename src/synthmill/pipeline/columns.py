"""Declared columns checked against the data before any work, so a typo is one line.

Each stage lists the columns it reads (`Stage.reads`) and adds (`Stage.writes`). Walking
the stages in order, the columns available to a stage are those of the data's first rows
plus what the stages before it write; a read column that is not there stops the run with
one line naming the stage, the column, the closest existing column and all of them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow.parquet as pq

from synthmill.errors import DataError
from synthmill.pipeline.stage import ANY_COLUMN, Source, Stage, StageContext
from synthmill.records import META_COLUMN, Record

SAMPLE_ROWS = 256  # rows whose keys make "the columns of the data"
SHOWN = 25  # column names listed in an error at most


class ColumnError(DataError):
    """A stage reads a column the data does not have."""


def columns_of(records: Iterable[Record], sample: int = SAMPLE_ROWS) -> set[str]:
    """The columns of the first `sample` rows (rows of JSONL files may differ in keys)."""
    found: set[str] = set()
    for n, record in enumerate(records):
        if n >= sample:
            break
        found.update(record.data)
    return found


def shard_columns(paths: Iterable[Path]) -> set[str] | None:
    """The data columns every non-empty Parquet shard has (None: all are empty).

    Only the footers are read; a column that a whole shard lacks counts as missing.
    """
    found: set[str] | None = None
    for path in paths:
        if pq.read_metadata(path).num_rows:
            names = set(pq.read_schema(path).names) - {META_COLUMN}
            found = names if found is None else found & names
    return found


def edit_distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) that turn a into b."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cost = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, prev2[j - 2] + 1)
            cur.append(cost)
        prev2, prev = prev, cur
    return prev[-1]


def closest(name: str, names: Sequence[str]) -> str | None:
    """The column a typo most likely meant: fewest edits (case aside), else difflib's pick."""
    scored = sorted((edit_distance(name.lower(), n.lower()), n) for n in names)
    if scored and scored[0][0] <= max(1, len(name) // 3):
        return scored[0][1]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return close[0] if close else None


def missing_message(who: str, column: str, available: Iterable[str], rows: str = "the rows") -> str:
    """One line: who reads which absent column, a did-you-mean, and what exists."""
    names = sorted(available)
    close = closest(column, names)
    hint = f"did you mean {close!r}? " if close else ""
    more = f", ... ({len(names) - SHOWN} more)" if len(names) > SHOWN else ""
    shown = ", ".join(map(repr, names[:SHOWN])) + more
    return (
        f"{who} reads column {column!r}, which {rows} do not have; "
        f"{hint}columns: {shown or '(none)'}"
    )


def require(who: str, reads: Iterable[str], available: set[str], rows: str = "the rows") -> None:
    """Raise ColumnError for the first column of `reads` that is not in `available`."""
    for column in reads:
        if column not in available:
            raise ColumnError(missing_message(who, column, available, rows))


def check_stages(stages: Sequence[Stage], columns: set[str], rows: str = "the rows") -> None:
    """Check every stage's reads against `columns` plus what earlier stages write.

    A stage whose writes are unknown (ANY_COLUMN) ends the walk: the stages after it
    are checked later against the rows that reach them (`check_batch`).
    """
    available = set(columns)
    for stage in stages:
        require(f"stage {stage.label!r}", stage.reads(), available, rows)
        writes = stage.writes()
        if ANY_COLUMN in writes:
            return
        available.update(writes)


def check_pipeline(stages: Sequence[Stage], seed: int) -> None:
    """Check a whole pipeline against its source's first rows (of each of its input files),
    before anything runs."""
    source = stages[0]
    if not isinstance(source, Source) or not any(s.reads() for s in stages):
        return
    for name, first in source.samples(StageContext(seed, source.label), SAMPLE_ROWS):
        if first:
            check_stages(stages, columns_of(first), f"the rows of {name}")


def check_batch(
    stage: Stage, records: Sequence[Record], rows: str = "the rows reaching it"
) -> None:
    """Check one stage's reads against the rows it is about to get (none: nothing to check)."""
    if records and (reads := stage.reads()):
        require(f"stage {stage.label!r}", reads, columns_of(records), rows)
