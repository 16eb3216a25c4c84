"""The copula's correlation matrices: estimated pairwise, then shrunk by as much as their
sampling noise calls for.

A sample correlation of d columns from n rows is noisy when n is not much larger than d
(wine: 13 columns, about 47 training rows a class): its small eigenvalues come out too
small, so rows drawn from it crowd the directions in which the training rows happen to
lie flat and sit nearer the training rows than new rows from the same source do (the DCR
share of wine's copula was 0.63 over 20 splits; 0.58 with this). Each copula's matrix
is therefore pulled toward a target, (1 - w) R + w T, with Schaefer and Strimmer's
analytic weight (2005, "A shrinkage approach to large-scale covariance matrix
estimation"): the estimated variance of the correlations over their squared distance to
the target, so w goes to 0 as rows grow (w < 0.01 for 1,500 rows of 8 columns). The
target of a copula per class is the pooled within-class correlation of all training rows
(0 for pairs with a nominal category, whose levels each copula orders its own way); the
target of the pooled matrix, and of a single copula, is the identity.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]
Sums = tuple[Array, Array, Array]


def pair_sums(z: Array) -> Sums:
    """What a pairwise-complete correlation needs of scores `z` (NaN = missing)."""
    present = ~np.isnan(z)
    filled = np.where(present, z, 0.0)
    mask = present.astype(float)
    # [i, j]: rows where both are present; sum of z_i z_j; sum of z_i^2 where j is present
    return mask.T @ mask, filled.T @ filled, (filled**2).T @ mask


def from_sums(sums: Sums) -> Array:
    """The positive definite correlation matrix of `pair_sums`."""
    both, products, squares = sums
    norms = np.sqrt(squares * squares.T)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where((both >= 3) & (norms > 0), products / norms, 0.0)
    np.fill_diagonal(corr, 1.0)
    return nearest_correlation(np.clip(corr, -1.0, 1.0))


def correlation(z: Array) -> Array:
    """Pairwise-complete correlation of normal scores (NaN = missing), positive definite."""
    return from_sums(pair_sums(z))


def nearest_correlation(corr: Array, floor: float = 1e-6) -> Array:
    """Clip eigenvalues at `floor` and rescale to a unit diagonal (positive definite)."""
    if corr.size == 0:
        return corr
    values, vectors = np.linalg.eigh((corr + corr.T) / 2)
    fixed = (vectors * np.maximum(values, floor)) @ vectors.T
    scale = np.sqrt(np.diag(fixed))
    out: Array = fixed / np.outer(scale, scale)
    return out


def shrunk(z: Array, target: Array) -> tuple[Array, float]:
    """The correlation of scores `z` pulled toward `target`, and the weight used."""
    sums = pair_sums(z)
    corr = from_sums(sums)
    if len(corr) < 2:
        return corr, 0.0
    w = weight(z, sums, corr, target)
    return (1.0 - w) * corr + w * target, w


def weight(z: Array, sums: Sums, corr: Array, target: Array) -> float:
    """Schaefer and Strimmer's (2005) shrinkage intensity: the summed estimated variance
    of the off-diagonal correlations over their summed squared distance to the target
    (the variance of each from the spread of its products z_i z_j over the rows)."""
    both, products, _ = sums
    filled = np.nan_to_num(z) ** 2
    quads = filled.T @ filled  # [i, j]: sum of (z_i z_j)^2 over rows where both are present
    off = ~np.eye(len(corr), dtype=bool) & (both >= 3)
    n = both[off]
    variance = n / (n - 1) ** 3 * np.maximum(quads[off] - products[off] ** 2 / n, 0.0)
    distance = float(np.sum((corr[off] - target[off]) ** 2))
    if distance <= 0:
        return 1.0
    return float(np.clip(variance.sum() / distance, 0.0, 1.0))


def pooled_target(scores: list[Array], nominal: Array) -> Array:
    """The pooled within-group correlation of every group's scores (each group's columns
    are normal scores of its own marginals), shrunk toward the identity; 0 for pairs with a
    nominal column (`nominal`: a mask of columns whose level order is each copula's own)."""
    pooled, _ = shrunk(np.vstack(scores), np.eye(len(nominal)))
    keep = ~nominal
    target = np.eye(len(nominal))
    target[np.ix_(keep, keep)] = pooled[np.ix_(keep, keep)]
    return target
