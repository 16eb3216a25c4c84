"""Real and synthetic tables as matrices, encoded the same way (learned from the real train).

Two encodings: `model_matrix` for gradient boosting (numbers as floats, categories as
integer codes, NaN for missing) and `distance_matrix` for nearest-neighbour privacy
metrics (numbers scaled to [0, 1] by the real range, missing at -1, categories one-hot
scaled so that a mismatch costs a distance of 1, like a full-range numeric difference).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthmill.errors import DataError
from synthmill.tabular.table import ColumnSpec

Array = np.ndarray[Any, Any]
MODEL_LEVELS = 250  # category codes a gradient-boosting model sees (the rest are 'other')
DISTANCE_LEVELS = 50  # one-hot width per categorical column in distance space


def numbers(col: pa.ChunkedArray | pa.Array) -> Array:
    """A numeric or temporal column as float64, NaN where missing."""
    if pa.types.is_temporal(col.type):
        col = col.cast(pa.int32() if pa.types.is_date32(col.type) else pa.int64())
    if pa.types.is_boolean(col.type):
        col = col.cast(pa.int8())
    return np.asarray(col.cast(pa.float64()).fill_null(np.nan).to_numpy(), dtype=float)


def is_numeric(spec: ColumnSpec) -> bool:
    return spec.kind in ("numeric", "discrete", "datetime")


@dataclass
class Encoder:
    """Per-column encodings fitted on the real training table."""

    specs: list[ColumnSpec]
    levels: dict[str, pa.Array] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def fit(cls, train: pa.Table, specs: list[ColumnSpec]) -> Encoder:
        enc = cls([s for s in specs if s.modelled])
        for spec in enc.specs:
            col = train.column(spec.name)
            if is_numeric(spec):
                x = numbers(col)
                lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
                enc.ranges[spec.name] = (lo, hi if hi > lo else lo + 1.0)
            else:
                counts = pc.value_counts(col.cast(pa.string()))
                order = np.argsort(-counts.field("counts").to_numpy(), kind="stable")
                enc.levels[spec.name] = counts.field("values").take(pa.array(order))
        return enc

    def codes(self, table: pa.Table, name: str, limit: int) -> Array:
        """Category codes by real frequency; unseen or rarer than `limit` levels: `limit`."""
        levels = self.levels[name][:limit]
        col = table.column(name).cast(pa.string())
        idx = pc.index_in(col, value_set=levels, skip_nulls=False)
        return np.asarray(idx.fill_null(min(limit, len(levels))).to_numpy(), dtype=float)

    def model_matrix(self, table: pa.Table, exclude: str | None = None) -> tuple[Array, Array]:
        """(matrix, mask of categorical columns) for scikit-learn's gradient boosting."""
        cols, categorical = [], []
        for spec in self.specs:
            if spec.name == exclude:
                continue
            numeric = is_numeric(spec)
            cols.append(
                numbers(table.column(spec.name))
                if numeric
                else self.codes(table, spec.name, MODEL_LEVELS)
            )
            categorical.append(not numeric)
        matrix = np.column_stack(cols) if cols else np.zeros((table.num_rows, 0))
        return matrix, np.array(categorical, dtype=bool)

    def distance_matrix(self, table: pa.Table) -> Array:
        blocks = []
        for spec in self.specs:
            if is_numeric(spec):
                lo, hi = self.ranges[spec.name]
                x = (numbers(table.column(spec.name)) - lo) / (hi - lo)
                blocks.append(np.nan_to_num(x, nan=-1.0)[:, None])
            else:
                codes = self.codes(table, spec.name, DISTANCE_LEVELS).astype(int)
                width = int(min(DISTANCE_LEVELS, len(self.levels[spec.name])) + 1)
                blocks.append(np.eye(width)[codes] / np.sqrt(2.0))
        return np.hstack(blocks) if blocks else np.zeros((table.num_rows, 0))


def align(real: pa.Table, other: pa.Table, what: str) -> pa.Table:
    """`other` with the real table's columns, in order, cast to the real types."""
    missing = [c for c in real.column_names if c not in other.column_names]
    if missing:
        raise DataError(f"the {what} table lacks columns {missing}; give tables of one schema")
    columns = []
    for name in real.column_names:
        col, typ = other.column(name), real.column(name).type
        try:
            columns.append(col.cast(typ) if col.type != typ else col)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise DataError(
                f"column {name!r} of the {what} table is {col.type}, the real one is {typ}; "
                "give tables of one schema"
            ) from None
    return pa.table(columns, names=real.column_names)
