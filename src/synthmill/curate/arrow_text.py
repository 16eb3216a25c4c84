"""What str.split(), len() and the dedup normalization give, a text column at a time.

Arrow's kernels do the common case, text whose only whitespace is single spaces between
words ("plain" text): there, len(s.split()) is the number of spaces plus one. Every other
row (a tab, a double space, a leading space, any whitespace str.isspace() knows that is
not a space) is handed to Python's own functions, so the results are str.split()'s.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import cache

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

I64 = npt.NDArray[np.int64]


@cache
def not_plain_pattern() -> str:
    """An RE2 pattern for text that is not plain: any character str.isspace() (so
    str.split()) knows other than the space, two spaces, or a space at either end.
    Built on first use (it scans every code point), not at import."""
    found = [c for c in range(sys.maxunicode + 1) if chr(c).isspace() and c != 0x20]
    return "[" + "".join(f"\\x{{{c:x}}}" for c in found) + "]|  |^ | $"


def text_column(table: pa.Table, column: str) -> pa.Array | None:
    """The column as text with nulls as "" (what `str(v or "")` gives), or None when it
    is not a text column (the caller then goes row by row)."""
    if column not in table.column_names:
        return pa.array([""] * table.num_rows, pa.string())
    values = table.column(column)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return None
    return pc.fill_null(values.combine_chunks(), "")


def not_plain(values: pa.Array) -> npt.NDArray[np.bool_]:
    """Rows with whitespace other than single spaces between words."""
    found = pc.match_substring_regex(values, not_plain_pattern())
    return np.asarray(found.to_numpy(zero_copy_only=False))


def word_counts(values: pa.Array) -> I64:
    """len(s.split()) of each value (no nulls)."""
    spaces = pc.count_substring(values, " ").to_numpy().astype(np.int64)
    words = np.where(pc.binary_length(values).to_numpy() > 0, spaces + 1, 0)
    return _by_python(words, values, not_plain(values), lambda s: len(s.split()))


def char_counts(values: pa.Array) -> I64:
    """len(s) of each value (code points; no nulls)."""
    return np.asarray(pc.utf8_length(values).to_numpy(), dtype=np.int64)


def _by_python(
    out: I64, values: pa.Array, rows: npt.NDArray[np.bool_], func: Callable[[str], int]
) -> I64:
    index = np.flatnonzero(rows)
    if len(index):
        out[index] = [func(s) for s in values.take(pa.array(index)).to_pylist()]
    return out


def normalized(
    values: pa.Array, normalize: Callable[[str], str], lowercase: bool, collapse: bool
) -> pa.Array:
    """normalize() of each value (no nulls), for exact dedup's normalize without
    punctuation stripping: ASCII rows are lower-cased by Arrow; rows that are not ASCII
    (NFKC, Unicode case) or, when whitespace is collapsed, not plain go through Python."""
    python = np.logical_not(pc.string_is_ascii(values).to_numpy(zero_copy_only=False))
    if collapse:
        python |= not_plain(values)
    out = pc.ascii_lower(values) if lowercase else values
    index = np.flatnonzero(python)
    if not len(index):
        return out
    fixed = pa.array([normalize(s) for s in values.take(pa.array(index)).to_pylist()])
    mask = np.zeros(len(values), dtype=bool)
    mask[index] = True
    return pc.replace_with_mask(out, pa.array(mask), fixed)
