"""A 1-D Gaussian kernel density estimate (Silverman bandwidth) of a two-mode truth.

KDE fails the other way from a fitted Gaussian: each generation adds the kernel's
variance h^2, so the estimate spreads and the valley between the modes fills in.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from synthmill.collapse.base import Data, Family, importance_resample, need

MODES = ((0.7, -2.0, 0.6), (0.3, 2.0, 1.0))  # (weight, mean, s.d.); the 0.3 mode is the tail
GRID = np.linspace(-10.0, 10.0, 1001)


class KernelDensity(Family):
    name: ClassVar[str] = "kde"

    def __init__(self, n: int = 300) -> None:
        super().__init__(n)
        need(n >= 2, "kde: n must be at least 2")

    def real(self, rng: np.random.Generator) -> Data:
        comp = rng.choice(len(MODES), size=self.n, p=[w for w, _, _ in MODES])
        means = np.array([m for _, m, _ in MODES])[comp]
        sds = np.array([s for _, _, s in MODES])[comp]
        return rng.normal(means, sds)

    def fit(self, data: Data, rng: np.random.Generator) -> tuple[Data, float]:
        """The points and Silverman's bandwidth 0.9 min(sd, IQR/1.34) n^(-1/5)."""
        iqr = float(np.subtract(*np.percentile(data, [75, 25])))
        spread = min(float(np.std(data)), iqr / 1.34) or float(np.std(data)) or 1.0
        return np.asarray(data, dtype=float), 0.9 * spread * len(data) ** -0.2

    def sample(self, model: Any, n: int, rng: np.random.Generator) -> Data:
        points, h = model
        return np.asarray(points[rng.integers(len(points), size=n)] + rng.normal(0.0, h, size=n))

    def metrics(self, model: Any, rng: np.random.Generator) -> dict[str, float]:
        points, h = model
        est, truth = kde_density(model, GRID), true_density(GRID)
        dx = GRID[1] - GRID[0]
        return {
            "l2": math.sqrt(float(np.sum((est - truth) ** 2) * dx)),
            "var_ratio": (float(np.var(points)) + h**2) / _true_var(),
            "valley_density": float(kde_density(model, np.array([0.0]))[0]),
            "bandwidth": h,
        }

    def verify(self, model: Any, candidates: Data, rng: np.random.Generator) -> Data:
        log_true = np.log(np.maximum(true_density(candidates), 1e-300))
        log_model = np.log(np.maximum(kde_density(model, candidates), 1e-300))
        return importance_resample(candidates, log_true, log_model, self.n, rng)


def _normal(x: Data, mean: Any, sd: Any) -> Any:
    return np.exp(-0.5 * ((x - mean) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))


def true_density(x: Data) -> np.ndarray[Any, Any]:
    return np.asarray(sum(w * _normal(x, m, s) for w, m, s in MODES))


def _true_var() -> float:
    mean = sum(w * m for w, m, _ in MODES)
    return sum(w * (s**2 + (m - mean) ** 2) for w, m, s in MODES)


def kde_density(model: tuple[Data, float], x: Data) -> np.ndarray[Any, Any]:
    """The KDE at x, in chunks of points so memory stays small for big training sets."""
    points, h = model
    out = np.zeros(len(x))
    for start in range(0, len(points), 2048):
        chunk = points[start : start + 2048]
        out += _normal(x[:, None], chunk[None, :], h).sum(axis=1)
    return out / len(points)
