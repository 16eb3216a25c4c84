"""Real tables in: reading CSV/Parquet, typing text columns, and what kind each column is.

A column's kind decides how it is modelled and evaluated:
numeric (continuous), discrete (few distinct numbers), datetime, categorical, id
(every value distinct: new values are made from its pattern), text (free text: words
drawn from its common vocabulary), empty (all null). Unusual columns get a note that the
card states, so nothing is dropped silently.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from synthmill.errors import DataError
from synthmill.records import META_COLUMN

DISCRETE_MAX = 30  # numeric columns with at most this many distinct values are discrete...
REPEATS = 10  # ...if each value occurs this often on average (else atoms would copy rows)
MAX_CATEGORIES = 500  # more levels than this: the rarest are made from the column's pattern
ID_NAME = re.compile(r"(^|[_\W])(id|uuid|guid|key)$|[a-z]Id$", re.IGNORECASE)


@dataclass
class ColumnSpec:
    """A column's name, kind and Arrow type, and what the card must say about it."""

    name: str
    kind: str
    type: pa.DataType
    notes: list[str] = field(default_factory=list)

    @property
    def modelled(self) -> bool:
        """Does the column take part in the copula and in the evaluation?"""
        return self.kind in ("numeric", "discrete", "datetime", "categorical")


def read_table(path: str | Path) -> pa.Table:
    """A CSV or Parquet file, a glob of them (quoted: 'parts/*.csv'), or a synthmill run's
    data/, as a typed Arrow table."""
    p = Path(path)
    if p.is_dir() and (p / "data").is_dir():
        p = p / "data"
    if p.is_dir():
        files = sorted(p.glob("*.parquet"))
    elif p.exists():
        files = [p]
    else:  # a glob
        files = sorted(Path(m) for m in glob.glob(str(p), recursive=True) if Path(m).is_file())
        if not files:
            raise DataError(f"{path} does not exist; check the path")
    if not files:
        raise DataError(f"{path} holds no .parquet files; give a CSV or Parquet file")
    tables = [_read_one(f) for f in files]
    table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    if META_COLUMN in table.column_names:
        table = table.drop_columns([META_COLUMN])
    return coerce_strings(table)


def _read_one(path: Path) -> pa.Table:
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pq.read_table(path)
        if suffix in (".csv", ".tsv", ".txt"):
            return _read_csv(path, "\t" if suffix == ".tsv" else ",")
    except pa.ArrowInvalid as exc:
        raise DataError(f"{path}: cannot read it ({str(exc).splitlines()[0]})") from None
    raise DataError(f"{path}: unknown table format {suffix!r}; give a .csv or .parquet file")


def _read_csv(path: Path, delimiter: str) -> pa.Table:
    check_utf8(path)
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty; give a table with a header and rows")
    parse = pacsv.ParseOptions(delimiter=delimiter)
    convert = pacsv.ConvertOptions(strings_can_be_null=True)
    return pacsv.read_csv(path, parse_options=parse, convert_options=convert)


def check_utf8(path: Path) -> None:
    """A one-line DataError naming the first byte that is not UTF-8."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path}: line {line} is not UTF-8 (byte {data[exc.start]:#x}); re-encode it, "
            f"for example: iconv -f latin1 -t utf-8 {path.name} > utf8.csv"
        ) from None


def coerce_strings(table: pa.Table) -> pa.Table:
    """Type text columns that hold only numbers or timestamps ('' counts as missing);
    dictionaries become their values, decimals floats, and NaN is missing."""
    repeated = sorted({n for n in table.column_names if table.column_names.count(n) > 1})
    if repeated:
        raise DataError(f"column names repeat: {', '.join(repeated)}; give each its own name")
    return pa.table(
        [_coerced(n, table.column(n)) for n in table.column_names], names=table.column_names
    )


def _coerced(name: str, col: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if pa.types.is_large_string(col.type):
        col = col.cast(pa.string())
    if pa.types.is_string(col.type):
        return _typed(pc.if_else(pc.equal(pc.utf8_trim_whitespace(col), ""), None, col))
    if pa.types.is_null(col.type):
        return col.cast(pa.string())
    if pa.types.is_decimal(col.type):
        col = col.cast(pa.float64())
    if pa.types.is_floating(col.type):
        if pc.any(pc.is_inf(col)).as_py():
            raise DataError(f"column {name!r} holds infinite values; make them missing first")
        return pc.if_else(pc.is_nan(col), None, col)
    if not (
        pa.types.is_integer(col.type)
        or pa.types.is_boolean(col.type)
        or pa.types.is_temporal(col.type)
    ):
        raise DataError(
            f"column {name!r} is {col.type}; only numbers, text, booleans and dates can be "
            "synthesized: drop or flatten it first"
        )
    return col


def _typed(col: pa.ChunkedArray) -> pa.ChunkedArray:
    trimmed = pc.utf8_trim_whitespace(col)
    for target in (pa.int64(), pa.float64(), pa.timestamp("s")):
        try:
            return trimmed.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return col


def numeric_share(col: pa.ChunkedArray) -> float:
    """The share of a text column's non-null values that read as numbers."""
    values = col.drop_null()
    if len(values) == 0:
        return 0.0
    pattern = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
    return float(pc.sum(pc.match_substring_regex(values, pattern)).as_py() or 0) / len(values)


def profile(table: pa.Table) -> list[ColumnSpec]:
    """The kind of every column, with notes on what is unusual about it."""
    if table.num_columns == 0:
        raise DataError("the table has no columns; give a table with a header")
    if table.num_rows == 0:
        raise DataError("the table has no rows; a synthesizer needs real rows to learn from")
    return [column_spec(name, table.column(name)) for name in table.column_names]


def column_spec(name: str, col: pa.ChunkedArray) -> ColumnSpec:
    kind_type = col.type
    present = len(col) - col.null_count
    if present == 0:
        return ColumnSpec(name, "empty", kind_type, ["empty in the real data: left empty"])
    if pa.types.is_temporal(kind_type):
        return ColumnSpec(name, "datetime", kind_type)
    distinct = pc.count_distinct(col).as_py()
    if pa.types.is_boolean(kind_type):
        return ColumnSpec(name, "categorical", kind_type)
    if pa.types.is_integer(kind_type) or pa.types.is_floating(kind_type):
        return _numeric_spec(name, col, distinct, present)
    if pa.types.is_string(kind_type) or pa.types.is_large_string(kind_type):
        return _text_spec(name, col, distinct, present)
    return ColumnSpec(name, "categorical", kind_type, [f"type {kind_type} modelled as categories"])


def _numeric_spec(name: str, col: pa.ChunkedArray, distinct: int, present: int) -> ColumnSpec:
    if pa.types.is_integer(col.type) and distinct == present and present >= 20:
        lo, hi = pc.min_max(col).values()
        contiguous = hi.as_py() - lo.as_py() + 1 <= 2 * present
        if ID_NAME.search(name) or contiguous:
            note = f"an ID ({distinct} distinct values): new IDs above the real maximum"
            return ColumnSpec(name, "id", col.type, [note])
    if distinct <= DISCRETE_MAX and distinct * REPEATS <= present:
        return ColumnSpec(name, "discrete", col.type)
    return ColumnSpec(name, "numeric", col.type)


def _text_spec(name: str, col: pa.ChunkedArray, distinct: int, present: int) -> ColumnSpec:
    notes = []
    share = numeric_share(col)
    if 0.5 <= share < 1.0:
        notes.append(f"mixes numbers ({share:.0%}) and text: modelled as categories")
    if distinct > 50 and distinct >= 0.5 * present:
        length = pc.mean(pc.utf8_length(col)).as_py() or 0.0
        spaces = pc.mean(pc.count_substring(col, " ")).as_py() or 0.0
        if spaces >= 2 and length >= 15:
            note = f"free text ({distinct} distinct): words drawn from its common vocabulary"
            return ColumnSpec(name, "text", col.type, [*notes, note])
        note = f"an ID-like column ({distinct} distinct of {present}): new values from its pattern"
        return ColumnSpec(name, "id", col.type, [*notes, note])
    if distinct > MAX_CATEGORIES:
        note = (
            f"{distinct} levels: the {MAX_CATEGORIES} most frequent kept, "
            "rarer ones replaced by new values of the same pattern"
        )
        notes.append(note)
    return ColumnSpec(name, "categorical", col.type, notes)
