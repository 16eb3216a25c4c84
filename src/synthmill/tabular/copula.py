"""The Gaussian copula synthesizer: per-column models joined by one correlation matrix.

Fit: each column's model turns its values into uniforms (frequency intervals, rank
pseudo-observations, missing indicators), the uniforms become normal scores, and their
correlation is estimated pairwise over rows where both are present (two matrix
products), then made positive definite. The levels of each category are then put in the
order of their rows' mean score on the correlation's leading eigenvector and the
correlation estimated again: a nominal column's association with the others becomes
monotone, which a linear correlation can carry. Sample: correlated normals, shard by shard,
through each column model back to values of the original types. Everything is seeded:
shard `i` of a given seed is always the same rows, whatever the number of shards.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import special

from synthmill.tabular.features import numbers
from synthmill.tabular.table import ColumnSpec, profile
from synthmill.tabular.transformers import Atoms, ColumnModel, model_for

log = logging.getLogger(__name__)
Array = np.ndarray[Any, Any]
CORRELATION_ROWS = 200_000  # rows used to estimate the correlation matrix at most
EPS = 1e-9
MIN_GROUP = 20  # rows a class needs for a copula of its own
BIN_ROWS, MAX_BINS = 50, 8  # a numeric target is cut into quantile bins of these sizes
MIN_SPLIT, MAX_SPLIT_LEVELS = 40, 20  # a class is split by a category's levels this large


def correlation(z: Array) -> Array:
    """Pairwise-complete correlation of normal scores (NaN = missing), positive definite."""
    present = ~np.isnan(z)
    filled = np.where(present, z, 0.0)
    both = present.T.astype(float) @ present.astype(float)
    sums = filled.T @ filled
    squares = (filled**2).T @ present.astype(float)  # [i, j]: sum of z_i^2 where j is present
    norms = np.sqrt(squares * squares.T)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where((both >= 3) & (norms > 0), sums / norms, 0.0)
    np.fill_diagonal(corr, 1.0)
    return nearest_correlation(np.clip(corr, -1.0, 1.0))


def nearest_correlation(corr: Array, floor: float = 1e-6) -> Array:
    """Clip eigenvalues at `floor` and rescale to a unit diagonal (positive definite)."""
    if corr.size == 0:
        return corr
    values, vectors = np.linalg.eigh((corr + corr.T) / 2)
    fixed = (vectors * np.maximum(values, floor)) @ vectors.T
    scale = np.sqrt(np.diag(fixed))
    out: Array = fixed / np.outer(scale, scale)
    return out


class CopulaCore:
    """One Gaussian copula over the modelled columns of a table."""

    def __init__(self, specs: list[ColumnSpec]) -> None:
        self.models = [model_for(spec) for spec in specs]
        self.corr: Array = np.zeros((0, 0))
        self.chol: Array = np.zeros((0, 0))

    def fit(self, table: pa.Table, rng: np.random.Generator) -> CopulaCore:
        sample = table
        if table.num_rows > CORRELATION_ROWS:
            rows = np.sort(rng.choice(table.num_rows, CORRELATION_ROWS, replace=False))
            sample = table.take(pa.array(rows))
        for model in self.models:
            model.fit(table.column(model.spec.name), rng)
        z = self._scores(sample, rng)
        nominal = [m for m in self.models if isinstance(m, Atoms) and m.spec.kind == "categorical"]
        if nominal and z.shape[1] > 1:
            leading = np.linalg.eigh(correlation(z))[1][:, -1]
            score = np.nan_to_num(z) @ leading
            for model in nominal:
                model.reorder(score, sample.column(model.spec.name))
            z = self._scores(sample, rng)
        self.corr = correlation(z)
        self.chol = np.linalg.cholesky(self.corr) if self.corr.size else self.corr
        return self

    def _scores(self, sample: pa.Table, rng: np.random.Generator) -> Array:
        blocks = [m.uniforms(sample.column(m.spec.name), rng) for m in self.models]
        u = np.hstack(blocks) if blocks else np.zeros((sample.num_rows, 0))
        z: Array = special.ndtri(np.clip(u, EPS, 1 - EPS))
        return z

    def sample(self, rows: int, rng: np.random.Generator) -> pa.Table:
        u = special.ndtr(rng.standard_normal((rows, len(self.corr))) @ self.chol.T)
        columns, at = [], 0
        for model in self.models:
            columns.append(model.decode(u[:, at : at + model.dims], rng, 0))
            at += model.dims
        return pa.table(columns, names=[m.spec.name for m in self.models])


class GaussianCopula:
    """Fit on an Arrow table; sample tables of the same columns and types.

    With `condition` (a target), each class with at least MIN_GROUP rows gets its own
    copula and the rarer classes share one (a numeric target is cut into quantile bins),
    so every column's distribution given the target is kept, which a single copula's
    linear dependence cannot do. Each class is then split once more by the levels (with
    MIN_SPLIT rows) of the category that tells most about the target (mutual information
    on the training rows): a mixture of copulas that keeps the strongest interaction with
    the target, which a copula per class smooths away.
    IDs, free text and empty columns are made once per shard, outside the copulas.
    """

    method = "copula"

    def __init__(self, seed: int = 0, condition: str | None = None) -> None:
        self.seed = seed
        self.condition = condition
        self.specs: list[ColumnSpec] = []
        self.generated: list[ColumnModel] = []
        self.cores: list[CopulaCore] = []
        self.weights: Array = np.zeros(0)
        self.split_by: str | None = None

    def fit(self, table: pa.Table, specs: list[ColumnSpec] | None = None) -> GaussianCopula:
        self.specs = specs or profile(table)
        rng = np.random.default_rng([self.seed, 0])
        self.generated = [model_for(s) for s in self.specs if not s.modelled]
        for model in self.generated:
            model.fit(table.column(model.spec.name), rng)
        modelled = [s for s in self.specs if s.modelled]
        groups = self._groups(table)
        self.weights = np.array([len(g) for g in groups], dtype=float) / table.num_rows
        self.cores = [CopulaCore(modelled).fit(table.take(pa.array(g)), rng) for g in groups]
        log.debug("copula fitted: %d columns, %d groups", len(self.specs), len(groups))
        return self

    def _groups(self, table: pa.Table) -> list[Array]:
        """Row indices of each class of the condition (rare classes pooled), or all rows."""
        everything = [np.arange(table.num_rows)]
        spec = next((s for s in self.specs if s.name == self.condition), None)
        if spec is None or not spec.modelled:
            return everything
        if spec.kind in ("categorical", "discrete"):
            codes = _codes(table.column(spec.name))
        else:  # a numeric target: its quantile bins, at least BIN_ROWS rows each
            x = numbers(table.column(spec.name))
            bins = int(np.clip(np.sum(~np.isnan(x)) // BIN_ROWS, 1, MAX_BINS))
            edges = np.unique(np.nanquantile(x, np.linspace(0, 1, bins + 1)[1:-1]))
            codes = np.where(np.isnan(x), len(edges) + 1, np.searchsorted(edges, x))
        groups = _split(np.arange(len(codes)), codes, MIN_GROUP, join=False)
        if len(groups) < 2:
            return everything
        self.split_by, by = self._splitter(table, codes)
        if by is None:
            return groups
        return [part for g in groups for part in _split(g, by[g], MIN_SPLIT)]

    def _splitter(self, table: pa.Table, target: Array) -> tuple[str | None, Array | None]:
        """The category (at most MAX_SPLIT_LEVELS levels) most informative of the target."""
        best: tuple[float, str | None, Array | None] = (0.0, None, None)
        for spec in self.specs:
            if spec.name == self.condition or not spec.modelled:
                continue
            if spec.kind not in ("categorical", "discrete"):
                continue
            codes = _codes(table.column(spec.name))
            if codes.max(initial=0) >= MAX_SPLIT_LEVELS:
                continue
            info = mutual_information(codes, target)
            if info > best[0]:
                best = (info, spec.name, codes)
        return best[1], best[2]

    def sample_shard(self, rows: int, shard: int, shard_size: int) -> pa.Table:
        """Shard `shard` of a sample: its rows depend only on the seed and the shard number."""
        rng = np.random.default_rng([self.seed, 1, shard])
        counts = rng.multinomial(rows, self.weights)
        parts = [core.sample(int(k), rng) for core, k in zip(self.cores, counts, strict=True)]
        body = pa.concat_tables(parts, promote_options="permissive")
        body = body.take(pa.array(rng.permutation(rows)))
        made = {
            m.spec.name: m.decode(np.zeros((rows, 0)), rng, shard * shard_size)
            for m in self.generated
        }
        columns = [made[s.name] if s.name in made else body.column(s.name) for s in self.specs]
        return pa.table(columns, names=[s.name for s in self.specs])

    def sample(self, rows: int, shard_size: int = 10_000) -> Iterator[pa.Table]:
        """`rows` synthetic rows as a stream of tables of `shard_size` rows."""
        for shard, start in enumerate(range(0, rows, shard_size)):
            yield self.sample_shard(min(shard_size, rows - start), shard, shard_size)

    def describe(self) -> dict[str, str]:
        """Column -> how it is modelled, for the card (the first copula's marginals)."""
        models = [*self.generated, *(self.cores[0].models if self.cores else [])]
        found = {m.spec.name: f"{m.spec.kind}: {m.describe()}" for m in models}
        if len(self.cores) > 1:
            kind = found[str(self.condition)].split(":")[0]
            split = f", split by {self.split_by}" if self.split_by else ""
            found[str(self.condition)] = (
                f"{kind}: one copula per class or bin{split} ({len(self.cores)})"
            )
        return {s.name: found[s.name] for s in self.specs}


def _codes(col: pa.ChunkedArray) -> Array:
    """0..k-1 codes of a column's values (null is a value)."""
    text = col.cast(pa.string())
    codes = pc.index_in(text, value_set=pc.unique(text), skip_nulls=False).to_numpy()
    return np.asarray(codes, dtype=int)


def _split(rows: Array, codes: Array, least: int, join: bool = True) -> list[Array]:
    """`rows` by code: codes with at least `least` rows each, the others pooled (with
    `join`, a pool smaller than MIN_GROUP is joined to the largest part)."""
    counts = np.bincount(codes)
    big = [rows[codes == c] for c in np.flatnonzero(counts >= least)]
    rest = rows[counts[codes] < least]
    if not len(rest):
        return big
    if not join or len(rest) >= MIN_GROUP or not big:
        return [*big, rest]
    largest = int(np.argmax([len(b) for b in big]))
    big[largest] = np.sort(np.concatenate([big[largest], rest]))
    return big


def mutual_information(a: Array, b: Array) -> float:
    """Mutual information (nats) of two code arrays."""
    table = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(table, (a, b), 1.0)
    p = table / table.sum()
    outer = p.sum(axis=1, keepdims=True) * p.sum(axis=0, keepdims=True)
    seen = p > 0
    return float(np.sum(p[seen] * np.log(p[seen] / outer[seen])))
