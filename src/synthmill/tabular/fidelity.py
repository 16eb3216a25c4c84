"""Fidelity: how alike the synthetic columns and column pairs are to the real ones.

Column shapes: 1 - KS for numbers and datetimes (missing counts as a value below all
others, so a wrong missing share lowers the score too), 1 - TVD for categories (missing
is a category). Column-pair trends: 1 - |rho_real - rho_synthetic| / 2 for two numeric
columns (Pearson, rows where both are present); otherwise 1 - TVD of the joint
distribution, numbers cut into the real data's deciles. Overall is the mean of the two.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthmill.tabular.features import is_numeric, numbers
from synthmill.tabular.table import ColumnSpec

Array = np.ndarray[Any, Any]
BINS = 10
PAIR_LEVELS = 50  # categories per column in a contingency table (the rest are 'other')


def ks_statistic(a: Array, b: Array) -> float:
    """Two-sample Kolmogorov-Smirnov statistic; NaN sorts below every number."""
    a = np.sort(np.nan_to_num(a, nan=-np.inf))
    b = np.sort(np.nan_to_num(b, nan=-np.inf))
    points = np.concatenate([a, b])
    fa = np.searchsorted(a, points, side="right") / len(a)
    fb = np.searchsorted(b, points, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def _shares(col: pa.ChunkedArray) -> dict[Any, float]:
    counts = pc.value_counts(col.cast(pa.string())).to_pylist()
    total = sum(c["counts"] for c in counts)
    return {c["values"]: c["counts"] / total for c in counts}


def tvd(a: pa.ChunkedArray, b: pa.ChunkedArray) -> float:
    pa_, pb = _shares(a), _shares(b)
    return 0.5 * sum(abs(pa_.get(k, 0.0) - pb.get(k, 0.0)) for k in set(pa_) | set(pb))


def column_shape(spec: ColumnSpec, real: pa.ChunkedArray, synth: pa.ChunkedArray) -> float:
    if is_numeric(spec):
        return 1.0 - ks_statistic(numbers(real), numbers(synth))
    return 1.0 - tvd(real, synth)


def _codes(spec: ColumnSpec, real: pa.ChunkedArray, col: pa.ChunkedArray) -> Array:
    """A column as small integer codes for a contingency table (real deciles or levels)."""
    if is_numeric(spec):
        r = numbers(real)
        edges = np.unique(np.nanquantile(r, np.linspace(0, 1, BINS + 1)[1:-1]))
        x = numbers(col)
        return np.where(np.isnan(x), len(edges) + 1, np.searchsorted(edges, x, side="right"))
    counts = pc.value_counts(real.cast(pa.string()))
    order = np.argsort(-counts.field("counts").to_numpy(), kind="stable")[:PAIR_LEVELS]
    levels = counts.field("values").take(pa.array(order))
    idx = pc.index_in(col.cast(pa.string()), value_set=levels, skip_nulls=False)
    return np.asarray(idx.fill_null(len(levels)).to_numpy(), dtype=int)


def _joint(x: Array, y: Array, width: int) -> Array:
    counts = np.bincount(x * width + y, minlength=width * width).astype(float)
    out: Array = counts / counts.sum()
    return out


def contingency_similarity(rx: Array, ry: Array, sx: Array, sy: Array) -> float:
    width = int(max(rx.max(), ry.max(), sx.max(), sy.max())) + 1
    return 1.0 - 0.5 * float(np.abs(_joint(rx, ry, width) - _joint(sx, sy, width)).sum())


def _pearson(x: Array, y: Array) -> float | None:
    both = ~np.isnan(x) & ~np.isnan(y)
    if both.sum() < 3 or np.std(x[both]) == 0 or np.std(y[both]) == 0:
        return None
    return float(np.corrcoef(x[both], y[both])[0, 1])


def pair_trend(
    specs: tuple[ColumnSpec, ColumnSpec], real: pa.Table, synth: pa.Table
) -> tuple[str, float] | None:
    a, b = specs
    if is_numeric(a) and is_numeric(b):
        rho_r = _pearson(numbers(real.column(a.name)), numbers(real.column(b.name)))
        rho_s = _pearson(numbers(synth.column(a.name)), numbers(synth.column(b.name)))
        if rho_r is None:
            return None
        return "correlation", 1.0 - abs(rho_r - (rho_s or 0.0)) / 2
    ra, rb = real.column(a.name), real.column(b.name)
    codes = [_codes(s, r, t.column(s.name)) for t in (real, synth) for s, r in ((a, ra), (b, rb))]
    return "contingency", contingency_similarity(*codes)


def fidelity(specs: list[ColumnSpec], real: pa.Table, synth: pa.Table) -> dict[str, Any]:
    """Column shapes, column-pair trends and the overall score (all in [0, 1])."""
    used = [s for s in specs if s.modelled]
    shapes = {s.name: column_shape(s, real.column(s.name), synth.column(s.name)) for s in used}
    pairs: dict[str, dict[str, Any]] = {}
    for a, b in combinations(used, 2):
        found = pair_trend((a, b), real, synth)
        if found is not None:
            pairs[f"{a.name} ~ {b.name}"] = {"metric": found[0], "score": found[1]}
    shape_mean = float(np.mean(list(shapes.values()))) if shapes else None
    pair_mean = float(np.mean([p["score"] for p in pairs.values()])) if pairs else None
    parts = [v for v in (shape_mean, pair_mean) if v is not None]
    return {
        "column_shapes": shape_mean,
        "pair_trends": pair_mean,
        "overall": float(np.mean(parts)) if parts else None,
        "columns": shapes,
        "pairs": pairs,
    }
