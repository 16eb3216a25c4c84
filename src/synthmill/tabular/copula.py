"""The Gaussian copula synthesizer: per-column models joined by one correlation matrix.

Fit: each column's model turns its values into uniforms (frequency intervals, rank
pseudo-observations, missing indicators), the uniforms become normal scores, and their
correlation is estimated pairwise over rows where both are present (two matrix
products), then made positive definite. The levels of each category are then put in the
order of their rows' mean score on the correlation's leading eigenvector and the
correlation estimated again: a nominal column's association with the others becomes
monotone, which a linear correlation can carry. Each copula's correlation is then pulled
toward a target by as much as its sampling noise calls for (`tabular.correlation`), so a
copula of few rows does not reproduce its rows' noise. Sample: correlated normals, shard
by shard, through each column model back to values of the original types. Everything is seeded:
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

from synthmill.tabular.correlation import correlation, pooled_target, shrunk
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


class CopulaCore:
    """One Gaussian copula over the modelled columns of a table."""

    def __init__(self, specs: list[ColumnSpec]) -> None:
        self.models = [model_for(spec) for spec in specs]
        self.corr: Array = np.zeros((0, 0))
        self.chol: Array = np.zeros((0, 0))

    def fit(self, table: pa.Table, rng: np.random.Generator) -> Array:
        """Fit the marginals (and the order of nominal levels); return the rows' normal
        scores (of a sample of CORRELATION_ROWS at most), from which the correlation is set."""
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
        return z

    def set_correlation(self, corr: Array) -> None:
        self.corr = corr
        self.chol = np.linalg.cholesky(corr) if corr.size else corr

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
        self.shrinkage: list[float] = []  # each copula's weight on its correlation's target

    def fit(self, table: pa.Table, specs: list[ColumnSpec] | None = None) -> GaussianCopula:
        self.specs = specs or profile(table)
        rng = np.random.default_rng([self.seed, 0])
        self.generated = [model_for(s) for s in self.specs if not s.modelled]
        for model in self.generated:
            model.fit(table.column(model.spec.name), rng)
        modelled = [s for s in self.specs if s.modelled]
        groups = self._groups(table)
        self.weights = np.array([len(g) for g in groups], dtype=float) / table.num_rows
        self.cores = [CopulaCore(modelled) for _ in groups]
        parts = zip(self.cores, groups, strict=True)
        scores = [core.fit(table.take(pa.array(g)), rng) for core, g in parts]
        self._correlate(scores)
        log.debug("copula fitted: %d columns, %d groups", len(self.specs), len(groups))
        return self

    def _correlate(self, scores: list[Array]) -> None:
        """Each copula's correlation, shrunk toward the identity (one copula) or toward the
        pooled within-group correlation (a copula per group)."""
        targets = [np.eye(z.shape[1]) for z in scores]
        if len(scores) > 1:
            targets = _pooled_targets(self.cores, scores)
        self.shrinkage = []
        for core, z, target in zip(self.cores, scores, targets, strict=True):
            corr, w = shrunk(z, target)
            core.set_correlation(corr)
            self.shrinkage.append(w)

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
            low, high = min(self.shrinkage, default=0.0), max(self.shrinkage, default=0.0)
            found[str(self.condition)] = (
                f"{kind}: one copula per class or bin{split} ({len(self.cores)}; correlations "
                f"{low:.0%}-{high:.0%} of the way to the pooled one, by their sampling noise)"
            )
        return {s.name: found[s.name] for s in self.specs}


def _pooled_targets(cores: list[CopulaCore], scores: list[Array]) -> list[Array]:
    """Each copula's part of the pooled within-group correlation. A column with missing
    values in one group only has its indicator dimension there: every group's scores are
    laid out on the widest layout (absent dimensions missing) and pooled pairwise."""
    widths = np.max([[m.dims for m in core.models] for core in cores], axis=0)
    starts = np.cumsum(widths) - widths
    places = [
        np.array(
            [s + i for s, m in zip(starts, c.models, strict=True) for i in range(m.dims)],
            dtype=int,
        )
        for c in cores
    ]
    laid = []
    for z, at in zip(scores, places, strict=True):
        full = np.full((len(z), int(widths.sum())), np.nan)
        full[:, at] = z
        laid.append(full)
    nominal = np.repeat([m.spec.kind == "categorical" for m in cores[0].models], widths)
    pooled = pooled_target(laid, nominal)
    return [pooled[np.ix_(at, at)] for at in places]


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
