"""Per-column profiles over all published rows: null share, lengths or values, top values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthmill.records import META_COLUMN

BINS = 20
TOP = 10


@dataclass
class ColumnProfile:
    name: str
    kind: str  # text, category, number, other
    rows: int
    nulls: int
    distinct: int | None = None
    top: list[tuple[str, int]] = field(default_factory=list)
    edges: list[float] = field(default_factory=list)  # histogram of lengths or of values
    counts: list[float] = field(default_factory=list)
    mean_length: float | None = None

    @property
    def null_share(self) -> float:
        return self.nulls / self.rows if self.rows else 0.0


def profiles(table: pa.Table) -> list[ColumnProfile]:
    return [profile_column(n, table.column(n)) for n in table.column_names if n != META_COLUMN]


def profile_column(name: str, col: pa.ChunkedArray) -> ColumnProfile:
    p = ColumnProfile(name, "other", len(col), col.null_count)
    kind = col.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        _strings(p, col)
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
        p.kind = "number"
        p.edges, p.counts = histogram(col.drop_null().to_numpy(zero_copy_only=False))
        _top(p, col)
    elif pa.types.is_boolean(kind) or pa.types.is_dictionary(kind):
        p.kind = "category"
        _top(p, col)
    return p


def _strings(p: ColumnProfile, col: pa.ChunkedArray) -> None:
    """Lengths and top values; a column of few repeated short values is a category."""
    lengths = pc.utf8_length(col).drop_null().to_numpy(zero_copy_only=False)
    p.mean_length = float(lengths.mean()) if len(lengths) else 0.0
    p.edges, p.counts = histogram(lengths)
    _top(p, col)
    filled = p.rows - p.nulls
    distinct = p.distinct or 0
    few = distinct <= 0.5 * filled or (distinct <= 50 and filled > 100)
    p.kind = "category" if few and p.mean_length < 80 else "text"


def _top(p: ColumnProfile, col: pa.ChunkedArray) -> None:
    """Distinct count and the TOP most frequent values (ties by value), picked in Arrow."""
    counts = pc.value_counts(col.drop_null())
    p.distinct = len(counts)
    if not p.distinct:
        return
    table = pa.table({"v": counts.field(0), "n": counts.field(1)})
    best = pc.select_k_unstable(table, k=min(TOP * 3, p.distinct), sort_keys=[("n", "descending")])
    picked = table.take(best).to_pylist()
    pairs = sorted(((str(r["v"]), int(r["n"])) for r in picked), key=lambda vc: (-vc[1], vc[0]))
    p.top = [(v if len(v) <= 80 else v[:79] + "…", c) for v, c in pairs[:TOP]]


def histogram(values: Any, bins: int = BINS) -> tuple[list[float], list[float]]:
    """Edges and counts; integer data gets integer-wide bins when it spans few values."""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    if not len(arr):
        return [], []
    lo, hi = float(arr.min()), float(arr.max())
    if lo == hi:
        return [lo - 0.5, hi + 0.5], [float(len(arr))]
    if np.all(arr == np.round(arr)) and hi - lo < bins:
        edges = np.arange(lo - 0.5, hi + 1.0, 1.0)
    else:
        edges = np.linspace(lo, hi, bins + 1)
    counts, edges = np.histogram(arr, bins=edges)
    return [float(e) for e in edges], [float(c) for c in counts]


def text_columns(profs: list[ColumnProfile]) -> list[str]:
    """The free-text columns (what diversity is measured on)."""
    return [p.name for p in profs if p.kind == "text"]
