"""Linear regression whose labels are made by its previous fit (Gerstgrasser et al. 2024).

x ~ N(0, I_d), y = x.w + N(0, s^2); real rows use the true w*, synthetic rows the last
fit. For x ~ N(0, I_d) the excess test error of a fit w is exactly |w - w*|^2, and one
OLS fit on n fresh rows adds an independent error of expected size s^2 d / (n - d - 1)
(E[(X'X)^-1] = I / (n - d - 1) for Gaussian X). So after generation t:
- replace:    E[excess] = (t + 1) s^2 d / (n - d - 1), growing without bound;
- accumulate: E[excess] ~= s^2 d / (n - d - 1) * sum_{j=1}^{t+1} 1/j^2 < pi^2/6 of one fit
  (exact for a fixed design; for fresh designs the batches' X'X differ by O(1/sqrt(n))).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from synthmill.collapse.base import Data, Family


class Regression(Family):
    name: ClassVar[str] = "regression"
    verify_oversample: ClassVar[int] = 2

    def __init__(self, n: int = 100, d: int = 10, noise: float = 1.0, seed: int = 0) -> None:
        super().__init__(n)
        self.d, self.noise = d, noise
        w = np.random.default_rng(seed).normal(size=d)
        self.w_true = w / np.linalg.norm(w)

    def config(self) -> dict[str, Any]:
        return {"n": self.n, "d": self.d, "noise": self.noise}

    def one_fit_error(self) -> float:
        """E|w_hat - w*|^2 of one OLS fit on n rows: s^2 d / (n - d - 1)."""
        return self.noise**2 * self.d / (self.n - self.d - 1)

    def _rows(self, w: np.ndarray[Any, Any], n: int, rng: np.random.Generator) -> Data:
        x = rng.normal(size=(n, self.d))
        y = x @ w + rng.normal(0.0, self.noise, size=n)
        return np.column_stack([x, y])

    def real(self, rng: np.random.Generator) -> Data:
        return self._rows(self.w_true, self.n, rng)

    def fit(self, data: Data, rng: np.random.Generator) -> np.ndarray[Any, Any]:
        w, *_ = np.linalg.lstsq(data[:, :-1], data[:, -1], rcond=None)
        return np.asarray(w)

    def sample(self, model: Any, n: int, rng: np.random.Generator) -> Data:
        return self._rows(model, n, rng)

    def metrics(self, model: Any, rng: np.random.Generator) -> dict[str, float]:
        excess = float(np.sum((model - self.w_true) ** 2))
        return {"excess_error": excess, "test_error": excess + self.noise**2}

    def verify(self, model: Any, candidates: Data, rng: np.random.Generator) -> Data:
        """Keep rows whose label is within one noise s.d. of the true function."""
        residual = candidates[:, -1] - candidates[:, :-1] @ self.w_true
        return np.asarray(candidates[np.abs(residual) <= self.noise][: self.n])

    def theory(self, policy: str, generation: int) -> dict[str, float]:
        if policy == "replace":
            return {"theory_excess_error": (generation + 1) * self.one_fit_error()}
        if policy == "accumulate":
            harmonic = sum(1 / j**2 for j in range(1, generation + 2))
            return {"theory_excess_error": harmonic * self.one_fit_error()}
        return {}


ACCUMULATE_LIMIT = math.pi**2 / 6
