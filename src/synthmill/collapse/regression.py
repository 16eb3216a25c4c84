"""Linear regression whose labels are made by its previous fit (Gerstgrasser et al. 2024).

x ~ N(0, I_d), y = x.w + N(0, s^2); real rows use the true w*, synthetic rows the last
fit. As in the paper (Sec. 3) the design X is drawn once per chain and every generation
relabels the same X (`fixed_design=False` draws fresh rows each time). For x ~ N(0, I_d)
the excess test error of a fit w is exactly |w - w*|^2, and one
OLS fit on n fresh rows adds an independent error of expected size s^2 d / (n - d - 1)
(E[(X'X)^-1] = I / (n - d - 1) for Gaussian X). So after generation t:
- replace:    E[excess] = (t + 1) s^2 d / (n - d - 1), growing without bound;
- accumulate: E[excess] = s^2 d / (n - d - 1) * sum_{j=1}^{t+1} 1/j^2 < pi^2/6 of one fit
  (Gerstgrasser et al. 2024, Thm 1; exact for the fixed design, approximate for fresh
  designs, whose batches' X'X differ by O(1/sqrt(n))).
The replace line is the result they restate from Dohmatob et al. 2024 ("Model Collapse
Demystified", without regularization).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from synthmill.collapse.base import Data, Family, need


class Regression(Family):
    name: ClassVar[str] = "regression"
    verify_oversample: ClassVar[int] = 2

    def __init__(
        self,
        n: int = 100,
        d: int = 10,
        noise: float = 1.0,
        seed: int = 0,
        fixed_design: bool = True,
    ) -> None:
        super().__init__(n)
        need(d >= 1, "regression: d must be at least 1")
        need(
            n >= d + 2,
            f"regression: n must be at least d + 2 = {d + 2} (OLS theory needs n > d + 1)",
        )
        need(noise > 0, "regression: noise (the label s.d. s) must be positive")
        self.d, self.noise, self.seed, self.fixed_design = d, noise, seed, fixed_design
        w = np.random.default_rng(seed).normal(size=d)
        self.w_true = w / np.linalg.norm(w)
        self._x: Data | None = None  # the chain's fixed design, set by real()

    def one_fit_error(self) -> float:
        """E|w_hat - w*|^2 of one OLS fit on n rows: s^2 d / (n - d - 1)."""
        return self.noise**2 * self.d / (self.n - self.d - 1)

    def _design(self, n: int, rng: np.random.Generator) -> Data:
        if not self.fixed_design or self._x is None:
            return rng.normal(size=(n, self.d))
        reps = -(-n // len(self._x))  # the fixed X repeated (verified asks for more rows)
        return np.tile(self._x, (reps, 1))[:n]

    def _rows(self, w: np.ndarray[Any, Any], n: int, rng: np.random.Generator) -> Data:
        x = self._design(n, rng)
        y = x @ w + rng.normal(0.0, self.noise, size=n)
        return np.column_stack([x, y])

    def real(self, rng: np.random.Generator) -> Data:
        self._x = None
        data = self._rows(self.w_true, self.n, rng)
        self._x = data[:, :-1]
        return data

    def fit(self, data: Data, rng: np.random.Generator) -> np.ndarray[Any, Any]:
        w, *_ = np.linalg.lstsq(data[:, :-1], data[:, -1], rcond=None)
        return np.asarray(w)

    def stats(self, data: Data) -> np.ndarray[Any, Any]:
        """X'X and X'y, flattened: additive over batches, enough for OLS."""
        x, y = data[:, :-1], data[:, -1]
        return np.concatenate([(x.T @ x).ravel(), x.T @ y])

    def fit_stats(self, stats: np.ndarray[Any, Any], rng: np.random.Generator) -> Any:
        d = self.d
        xtx, xty = stats[: d * d].reshape(d, d), stats[d * d :]
        return np.linalg.solve(xtx, xty)

    def sample(self, model: Any, n: int, rng: np.random.Generator) -> Data:
        return self._rows(model, n, rng)

    def metrics(self, model: Any, rng: np.random.Generator) -> dict[str, float]:
        excess = float(np.sum((model - self.w_true) ** 2))
        return {"excess_error": excess, "test_error": excess + self.noise**2}

    def verify(self, model: Any, candidates: Data, rng: np.random.Generator) -> Data:
        """Keep rows whose label is within one noise s.d. of the true function."""
        residual = candidates[:, -1] - candidates[:, :-1] @ self.w_true
        return np.asarray(candidates[np.abs(residual) <= self.noise][: self.n])

    def extras(self, seeds: int) -> dict[str, Any]:
        """The accumulate bound pi^2/6 s^2 d / (n - d - 1), drawn on the plot."""
        return {"accumulate_bound": ACCUMULATE_LIMIT * self.one_fit_error()}

    def theory(self, policy: str, generation: int) -> dict[str, float]:
        if policy == "replace":
            return {"theory_excess_error_mean": (generation + 1) * self.one_fit_error()}
        if policy == "accumulate":
            harmonic = sum(1 / j**2 for j in range(1, generation + 2))
            return {"theory_excess_error_mean": harmonic * self.one_fit_error()}
        return {}


ACCUMULATE_LIMIT = math.pi**2 / 6
