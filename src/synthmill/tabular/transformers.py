"""Per-column models: real values to uniforms for the copula, and uniforms back to values.

- `Atoms` (categorical and discrete columns): frequency-interval encoding. Each value owns
  an interval of [0, 1) as wide as its share (numbers by value, so ranks survive;
  categories by frequency, then reordered by the copula along the data's leading axis);
  a value maps to a uniform draw inside its interval. Missing is a value like any other.
  A single value (a column constant within a class) has no score to correlate: missing.
  Categories beyond MAX_CATEGORIES share one interval whose values are made anew from
  their pattern.
- `Continuous` (numeric and datetime columns): rank-based pseudo-observations for the
  copula, a marginal chosen by goodness of fit for sampling, then bounds, integer
  rounding, decimals and time resolution restored; a missing-value indicator is its own
  copula dimension, so missingness can correlate with other columns.
- `Generated` (IDs, free text) and `Empty` take no copula dimension.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthmill.tabular import marginals
from synthmill.tabular.patterns import Patterns, Vocabulary
from synthmill.tabular.table import MAX_CATEGORIES, ColumnSpec

Array = np.ndarray[Any, Any]


class ColumnModel:
    """Base of the per-column models; `dims` copula dimensions each."""

    dims = 1

    def __init__(self, spec: ColumnSpec) -> None:
        self.spec = spec

    def fit(self, col: pa.ChunkedArray, rng: np.random.Generator) -> None:
        raise NotImplementedError

    def uniforms(self, col: pa.ChunkedArray, rng: np.random.Generator) -> Array:
        """(rows, dims) uniforms in (0, 1); NaN where a value is missing."""
        raise NotImplementedError

    def decode(self, u: Array, rng: np.random.Generator, start: int) -> pa.Array:
        """Values of the column's type from (rows, dims) uniforms; `start` is the row offset."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


def _interval_draw(index: Array, cum_left: Array, probs: Array, rng: np.random.Generator) -> Array:
    return cum_left[index] + rng.random(len(index)) * probs[index]


class Atoms(ColumnModel):
    """Frequency-interval encoding of a finite set of values (null included)."""

    def fit(self, col: pa.ChunkedArray, rng: np.random.Generator) -> None:
        counts = pc.value_counts(col)
        values, freq = counts.field("values"), counts.field("counts").to_numpy()
        if self.spec.kind == "discrete":  # by value, missing first
            x = np.asarray(values.cast(pa.float64()).fill_null(np.nan).to_numpy(), dtype=float)
            order = np.lexsort((np.nan_to_num(x), ~np.isnan(x)))
        else:
            order = np.argsort(-freq, kind="stable")
        kept = order[:MAX_CATEGORIES]
        self.values = values.take(pa.array(kept))
        probs = freq[kept].astype(float)
        self.rare: Patterns | None = None
        if len(order) > MAX_CATEGORIES:
            rare_values = values.take(pa.array(order[MAX_CATEGORIES:])).to_pylist()
            self.rare = Patterns.fit([str(v) for v in rare_values], rng)
            probs = np.append(probs, freq[order[MAX_CATEGORIES:]].sum())
        self.probs = probs / probs.sum()
        self.cum_left = np.concatenate([[0.0], np.cumsum(self.probs)[:-1]])

    def index(self, col: pa.ChunkedArray) -> Array:
        """Each row's interval (the rare interval for values not kept)."""
        index = pc.index_in(col, value_set=self.values, skip_nulls=False)
        idx = np.asarray(index.fill_null(len(self.values)).to_numpy(), dtype=int)
        out: Array = np.minimum(idx, len(self.probs) - 1)
        return out

    def uniforms(self, col: pa.ChunkedArray, rng: np.random.Generator) -> Array:
        u = _interval_draw(self.index(col), self.cum_left, self.probs, rng)[:, None]
        return u if len(self.probs) > 1 else np.full_like(u, np.nan)

    def reorder(self, score: Array, col: pa.ChunkedArray) -> None:
        """Order the kept levels by their mean `score` (rows of `col`), so that a linear
        correlation can carry how a category goes with the other columns."""
        kept = len(self.values)
        idx = self.index(col)
        sums = np.bincount(idx, weights=score, minlength=len(self.probs))[:kept]
        counts = np.maximum(np.bincount(idx, minlength=len(self.probs))[:kept], 1)
        order = np.argsort(sums / counts, kind="stable")
        self.values = self.values.take(pa.array(order))
        self.probs = np.concatenate([self.probs[:kept][order], self.probs[kept:]])
        self.cum_left = np.concatenate([[0.0], np.cumsum(self.probs)[:-1]])

    def decode(self, u: Array, rng: np.random.Generator, start: int) -> pa.Array:
        idx = np.searchsorted(self.cum_left, u[:, 0], side="right") - 1
        idx = np.clip(idx, 0, len(self.probs) - 1)
        rare = idx >= len(self.values)
        out = self.values.take(pa.array(np.where(rare, 0, idx)))
        if self.rare is not None and rare.any():
            made = pa.array(self.rare.sample(int(rare.sum()), rng), type=pa.string())
            out = pc.replace_with_mask(out.cast(pa.string()), pa.array(rare), made)
        return out

    def describe(self) -> str:
        head = f"{len(self.values)} values by frequency interval"
        return head + (f"; rarer ones from {self.rare.describe()}" if self.rare else "")


@dataclass
class Rounding:
    """How sampled numbers are put back: bounds, decimals or time step, and type."""

    lo: float
    hi: float
    decimals: int | None = None
    step: int = 1
    notes: list[str] = field(default_factory=list)


def _as_numbers(col: pa.ChunkedArray) -> Array:
    """A numeric or temporal column's non-null values as float64."""
    values = col.drop_null()
    if pa.types.is_temporal(col.type):
        width = pa.int32() if pa.types.is_date32(col.type) else pa.int64()
        values = values.cast(width)
    return np.asarray(values.to_numpy(), dtype=float)


def _decimals(x: Array) -> int | None:
    """The fewest decimals (0 to 6) that every value has, or None (all seven at once)."""
    scaled = x[None, :] * (10.0 ** np.arange(7))[:, None]
    exact = np.abs(scaled - np.round(scaled)) < 1e-6 * np.maximum(1.0, np.abs(scaled))
    found = np.flatnonzero(exact.all(axis=1))
    return int(found[0]) if found.size else None


def _time_step(col: pa.ChunkedArray, x: Array) -> int:
    """Largest of day / second / none that every value is a multiple of, in the type's unit."""
    if not pa.types.is_timestamp(col.type):
        return 1
    per_second = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[col.type.unit]
    for step in (86_400 * per_second, per_second):
        if np.all(np.mod(x, step) == 0):
            return step
    return 1


class Continuous(ColumnModel):
    """A numeric or datetime column: marginal + missing indicator + rounding."""

    def fit(self, col: pa.ChunkedArray, rng: np.random.Generator) -> None:
        x = _as_numbers(col)
        self.null_share = col.null_count / len(col)
        self.dims = 2 if self.null_share > 0 else 1
        self.marginal, self.scores = marginals.choose(x, rng)
        integral = pa.types.is_integer(col.type) or pa.types.is_temporal(col.type)
        decimals = 0 if integral else _decimals(x[: marginals.SAMPLE])
        self.rounding = Rounding(float(x.min()), float(x.max()), decimals, _time_step(col, x))

    def uniforms(self, col: pa.ChunkedArray, rng: np.random.Generator) -> Array:
        n = len(col)
        present = np.asarray(col.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        x = _as_numbers(col)
        shuffled = rng.permutation(len(x))  # a stable sort of shuffled values breaks ties at random
        ranks = np.empty(len(x))
        ranks[shuffled[np.argsort(x[shuffled], kind="stable")]] = np.arange(len(x))
        value = np.full(n, np.nan)
        value[present] = (ranks + 0.5) / max(len(x), 1)
        if self.dims == 1:
            return value[:, None]
        p = self.null_share
        indicator = np.where(present, p + rng.random(n) * (1 - p), rng.random(n) * p)
        return np.column_stack([value, indicator])

    def decode(self, u: Array, rng: np.random.Generator, start: int) -> pa.Array:
        r = self.rounding
        x = np.clip(self.marginal.ppf(u[:, 0]), r.lo, r.hi)
        if r.step > 1:
            x = np.round(x / r.step) * r.step
        if r.decimals is not None:
            x = np.round(x, r.decimals)
        missing = u[:, 1] < self.null_share if self.dims == 2 else np.zeros(len(x), dtype=bool)
        return _restore(x, missing, self.spec.type)

    def describe(self) -> str:
        return self.marginal.describe()


def _restore(x: Array, missing: Array, typ: pa.DataType) -> pa.Array:
    mask = missing if missing.any() else None
    if pa.types.is_floating(typ):
        return pa.array(x, mask=mask).cast(typ)
    ints = pa.array(np.round(x).astype(np.int64), mask=mask)
    if pa.types.is_date32(typ):
        return ints.cast(pa.int32()).cast(typ)
    return ints.cast(typ)


class Generated(ColumnModel):
    """IDs and free text: new values from the column's pattern or vocabulary."""

    dims = 0

    def fit(self, col: pa.ChunkedArray, rng: np.random.Generator) -> None:
        self.null_share = col.null_count / len(col)
        values = col.drop_null()
        self.int_start: int | None = None
        self.maker: Patterns | Vocabulary
        if pa.types.is_integer(col.type):
            self.int_start = int(pc.max(values).as_py()) + 1
        elif self.spec.kind == "text":
            self.maker = Vocabulary.fit([str(v) for v in values.to_pylist()], rng)
        else:
            self.maker = Patterns.fit([str(v) for v in values.to_pylist()], rng, unique=True)

    def uniforms(self, col: pa.ChunkedArray, rng: np.random.Generator) -> Array:
        return np.zeros((len(col), 0))

    def decode(self, u: Array, rng: np.random.Generator, start: int) -> pa.Array:
        n = len(u)
        missing = rng.random(n) < self.null_share
        mask = missing if missing.any() else None
        if self.int_start is not None:
            ids = np.arange(self.int_start + start, self.int_start + start + n)
            return pa.array(ids, mask=mask).cast(self.spec.type)
        made = (
            self.maker.sample(n, rng, start)
            if isinstance(self.maker, Patterns)
            else self.maker.sample(n, rng)
        )
        return pa.array(made, type=pa.string(), mask=mask)

    def describe(self) -> str:
        if self.int_start is not None:
            return f"new integers from {self.int_start}"
        return self.maker.describe()


class Empty(ColumnModel):
    dims = 0

    def fit(self, col: pa.ChunkedArray, rng: np.random.Generator) -> None:
        return None

    def uniforms(self, col: pa.ChunkedArray, rng: np.random.Generator) -> Array:
        return np.zeros((len(col), 0))

    def decode(self, u: Array, rng: np.random.Generator, start: int) -> pa.Array:
        return pa.nulls(len(u), self.spec.type)

    def describe(self) -> str:
        return "all missing"


def model_for(spec: ColumnSpec) -> ColumnModel:
    kinds: dict[str, type[ColumnModel]] = {
        "categorical": Atoms,
        "discrete": Atoms,
        "numeric": Continuous,
        "datetime": Continuous,
        "id": Generated,
        "text": Generated,
        "empty": Empty,
    }
    return kinds[spec.kind](spec)
