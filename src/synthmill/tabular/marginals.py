"""One-dimensional marginals of numeric columns, chosen by goodness of fit.

Candidates are a few parametric families fitted in closed form (normal, uniform, gamma,
log-normal, beta; closed form keeps a 100k-row fit in milliseconds), a smoothed empirical
distribution (the data convolved with a Gaussian kernel of Silverman's bandwidth,
tabulated on a grid) and the plain empirical one (quantile knots, for spiky columns such
as mostly-zero amounts). Each is fitted on one half of a sample and scored by the
Kolmogorov-Smirnov distance on the other half, so memorizing does not win; a family
within PREFER of the best is preferred in that order (parametric, smoothed, empirical),
being smoother and revealing fewer real values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import signal, special, stats

Array = np.ndarray[Any, Any]
KNOTS = 1001  # quantile knots of the empirical marginal
SAMPLE = 20_000  # values used to choose and fit a marginal
PREFER = 0.01  # KS margin within which a smoother family beats a rougher one
GRID = 4096  # bins of the smoothed empirical CDF
MIN_GRID = 256  # fewer values, a coarser grid: 4 points a value (the bandwidth is wider)
DIRECT = 100_000  # values x grid points up to which the smoothed CDF is summed directly


@dataclass
class Marginal:
    """A fitted 1-D distribution: `ppf` turns uniforms into values; `cdf` scores fits."""

    family: str
    params: dict[str, float] = field(default_factory=dict)
    knots: Array | None = None  # empirical only: quantiles at evenly spaced probabilities
    grid: Array | None = None  # smoothed only: x grid and the CDF on it
    grid_cdf: Array | None = None

    def _family(self) -> Any:
        # not frozen: freezing a scipy distribution builds a new instance (and its
        # docstrings) each time, most of a small table's fit time
        return getattr(stats, self.family)

    def cdf(self, x: Array) -> Array:
        if self.grid is not None and self.grid_cdf is not None:
            return np.interp(x, self.grid, self.grid_cdf)
        if self.knots is not None:
            probs = np.linspace(0.0, 1.0, len(self.knots))
            return np.interp(x, self.knots, probs)
        fast = _closed_cdf(self.family, self.params, np.asarray(x, dtype=float))
        if fast is not None:
            return fast
        return np.asarray(self._family().cdf(x, **self.params), dtype=float)

    def ppf(self, u: Array) -> Array:
        if self.grid is not None and self.grid_cdf is not None:
            return np.interp(u, self.grid_cdf, self.grid)
        if self.knots is not None:
            probs = np.linspace(0.0, 1.0, len(self.knots))
            return np.interp(u, probs, self.knots)
        fast = _closed_ppf(self.family, self.params, np.asarray(u, dtype=float))
        if fast is not None:
            return fast
        return np.asarray(self._family().ppf(u, **self.params), dtype=float)

    def describe(self) -> str:
        if self.grid is not None:
            return f"smoothed empirical (bandwidth {self.params['bandwidth']:.4g})"
        if self.knots is not None:
            return f"empirical ({len(self.knots)} knots)"
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"{self.family}({shown})"


def _closed_cdf(family: str, p: dict[str, float], x: Array) -> Array | None:
    """The families' CDFs through scipy.special: the same values as scipy.stats without
    its argument checking, which was most of a small table's fit (5 families x columns)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if family == "norm":
            return np.asarray(special.ndtr((x - p["loc"]) / p["scale"]))
        if family == "uniform":
            return np.clip((x - p["loc"]) / p["scale"], 0.0, 1.0)
        z = np.maximum((x - p["loc"]) / p["scale"], 0.0)
        if family == "gamma":
            return np.asarray(special.gammainc(p["a"], z))
        if family == "lognorm":
            return np.where(z > 0, special.ndtr(np.log(z) / p["s"]), 0.0)
        if family == "beta":
            return np.asarray(special.betainc(p["a"], p["b"], np.minimum(z, 1.0)))
    return None


def _closed_ppf(family: str, p: dict[str, float], u: Array) -> Array | None:
    """The inverse of `_closed_cdf`, scaled back to the data."""
    if family == "norm":
        z = special.ndtri(u)
    elif family == "uniform":
        z = u
    elif family == "gamma":
        z = special.gammaincinv(p["a"], u)
    elif family == "lognorm":
        z = np.exp(p["s"] * special.ndtri(u))
    elif family == "beta":
        z = special.betaincinv(p["a"], p["b"], u)
    else:
        return None
    return np.asarray(p["loc"] + p["scale"] * z, dtype=float)


def sorted_quantiles(xs: Array, probs: Array) -> Array:
    """np.quantile's default (linear) quantiles of already sorted values, bit for bit (its
    index and its two-sided interpolation), without its checks and sort: most of a small
    column's marginal fit was np.quantile's overhead."""
    n = len(xs)
    at = (n - 1) * np.asarray(probs, dtype=float)
    below = np.floor(at)
    t = at - below
    lo = np.clip(below.astype(int), 0, n - 1)
    hi = np.minimum(lo + 1, n - 1)
    top = at >= n - 1
    lo[top] = hi[top] = n - 1
    a, b = xs[lo], xs[hi]
    d = b - a
    out: Array = np.where(t >= 0.5, b - d * (1 - t), a + d * t)
    return out


def empirical(x: Array) -> Marginal:
    """Quantile knots of the values `x`, sorted ascending."""
    probs = np.linspace(0.0, 1.0, min(KNOTS, max(len(x), 2)))
    return Marginal("empirical", knots=sorted_quantiles(x, probs))


def smoothed(x: Array) -> Marginal | None:
    """The data convolved with a Gaussian kernel (Silverman's bandwidth), on a grid
    (`x` sorted ascending)."""
    std = _moments(x)[1]
    iqr = float(np.subtract(*sorted_quantiles(x, np.array([0.75, 0.25]))))
    spread = min(std, iqr / 1.34) if iqr > 0 else std
    if spread <= 0:
        return None
    h = 0.9 * spread * len(x) ** -0.2
    size = int(np.clip(2 ** np.ceil(np.log2(4 * len(x))), MIN_GRID, GRID))  # << bandwidth
    grid = np.linspace(x.min() - 3 * h, x.max() + 3 * h, size + 1)
    if len(x) * size <= DIRECT:  # few values: the kernels' CDFs summed exactly
        cdf = special.ndtr((grid[:, None] - x[None, :]) / h).mean(axis=1)
        cdf = (cdf - cdf[0]) / (cdf[-1] - cdf[0]) + np.linspace(0.0, 1e-9, size + 1)
        return Marginal("smoothed", {"bandwidth": h}, grid=grid, grid_cdf=cdf)
    counts, _ = np.histogram(x, bins=grid)  # binned, then convolved: O(GRID), any n
    width = grid[1] - grid[0]
    offsets = np.arange(-int(4 * h / width) - 1, int(4 * h / width) + 2) * width
    kernel = np.exp(-0.5 * (offsets / h) ** 2)
    density = np.maximum(signal.fftconvolve(counts, kernel, mode="same"), 0.0)
    cdf = np.concatenate([[0.0], np.cumsum(density)])
    cdf = cdf / cdf[-1] + np.linspace(0.0, 1e-9, size + 1)  # strictly increasing
    return Marginal("smoothed", {"bandwidth": h}, grid=grid, grid_cdf=cdf)


def _pad(x: Array) -> tuple[float, float, float]:
    lo, hi = float(x.min()), float(x.max())
    span = hi - lo
    return lo, hi, span * 0.01 or 1e-9


def _moments(x: Array) -> tuple[float, float]:
    """Mean and (population) standard deviation in two passes, without ndarray.std's
    per-call overhead (eight calls a column were a tenth of a small table's fit)."""
    mean = float(x.sum()) / len(x)
    d = x - mean
    return mean, math.sqrt(float(d @ d) / len(x))


def _parametric(x: Array) -> list[Marginal]:
    """Closed-form fits of every family that suits the data's range."""
    mean, std = _moments(x)
    if std <= 0:
        return []
    lo, hi, pad = _pad(x)
    out = [
        Marginal("norm", {"loc": mean, "scale": std}),
        Marginal("uniform", {"loc": lo, "scale": hi - lo or 1e-9}),
    ]
    loc = lo - pad
    out.append(
        Marginal(
            "gamma", {"a": (mean - loc) ** 2 / std**2, "loc": loc, "scale": std**2 / (mean - loc)}
        )
    )
    log_mean, log_std = _moments(np.log(x - loc))
    if log_std > 0:
        out.append(Marginal("lognorm", {"s": log_std, "loc": loc, "scale": math.exp(log_mean)}))
    width = hi - lo + 2 * pad
    m, v = (mean - loc) / width, (std / width) ** 2  # of (x - loc) / width
    common = m * (1 - m) / v - 1 if v > 0 else -1.0
    if common > 0:
        params = {"a": m * common, "b": (1 - m) * common, "loc": loc, "scale": width}
        out.append(Marginal("beta", params))
    return out


def ks_distance(marginal: Marginal, x: Array) -> float:
    """One-sample Kolmogorov-Smirnov statistic of values `x` (any order)."""
    return _ks_sorted(marginal, np.sort(x))


def _ks_sorted(marginal: Marginal, xs: Array) -> float:
    n = len(xs)
    cdf = np.clip(marginal.cdf(xs), 0.0, 1.0)
    steps = np.arange(n + 1) / n
    return float(max((steps[1:] - cdf).max(), (cdf - steps[:-1]).max()))


def choose(x: Array, rng: np.random.Generator) -> tuple[Marginal, dict[str, float]]:
    """The best marginal for the values `x` (no NaN), and every candidate's KS distance."""
    if len(x) > SAMPLE:
        x = rng.choice(x, SAMPLE, replace=False)
    if len(x) < 8 or x.min() == x.max():
        return empirical(np.sort(x)), {}
    order = rng.permutation(len(x))
    fit_half, test_half = np.sort(x[order[::2]]), np.sort(x[order[1::2]])
    candidates = [empirical(fit_half), smoothed(fit_half), *_parametric(fit_half)]
    scores = {m.family: _ks_sorted(m, test_half) for m in candidates if m is not None}
    scores = {k: v for k, v in scores.items() if np.isfinite(v)}
    best = min(scores.values())
    parametric = [k for k in scores if k not in ("empirical", "smoothed")]
    winner = min(parametric, key=lambda k: scores[k], default="empirical")
    if not parametric or scores[winner] > best + PREFER:
        winner = "smoothed" if scores.get("smoothed", 1.0) <= best + PREFER else "empirical"
    return _refit(winner, x, rng), scores


def _refit(family: str, x: Array, rng: np.random.Generator) -> Marginal:
    """The chosen family fitted on every sampled value."""
    xs = np.sort(x)
    if family == "smoothed":
        return smoothed(xs) or empirical(xs)
    found = {m.family: m for m in _parametric(xs)}
    return found.get(family) or empirical(xs)
