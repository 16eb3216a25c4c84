"""A single Gaussian refitted to its own samples: the textbook case of model collapse.

Shumailov et al. (Nature 2024, Thm 3.1) fit the mean and the *unbiased* variance
(divide by n - 1). Then one generation multiplies the variance by chi2(n-1)/(n-1), a
factor of mean 1, so the variance is a martingale: E[var_t] = var_0 for ever, while
log var_t is a random walk with negative drift E[log(chi2(n-1)/(n-1))] < 0, so the
*median* variance goes to 0 (almost surely) and the mean's error grows as (t+1)/n.
With the MLE variance (divide by n) the factor is chi2(n-1)/n and even the mean decays,
as ((n-1)/n)^(t+1).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from synthmill.collapse.base import Data, Family, importance_resample, need
from synthmill.errors import ConfigError, MissingExtraError

ESTIMATORS = ("unbiased", "mle")


class Gaussian(Family):
    name: ClassVar[str] = "gaussian"

    def __init__(
        self, n: int = 100, mu: float = 0.0, sigma: float = 1.0, estimator: str = "unbiased"
    ) -> None:
        super().__init__(n)
        self.mu, self.sigma, self.estimator = mu, sigma, estimator
        need(n >= 2, "gaussian: n must be at least 2 (a variance needs two rows)")
        need(sigma > 0, "gaussian: sigma must be positive")
        if estimator not in ESTIMATORS:
            raise ConfigError(
                f"gaussian: unknown estimator {estimator!r}; use one of {', '.join(ESTIMATORS)}"
            )

    @property
    def ddof(self) -> int:
        return 1 if self.estimator == "unbiased" else 0

    def real(self, rng: np.random.Generator) -> Data:
        return rng.normal(self.mu, self.sigma, size=self.n)

    def fit(self, data: Data, rng: np.random.Generator) -> tuple[float, float]:
        return self.fit_stats(self._sums(data), rng)

    def stats(self, data: Data) -> np.ndarray[Any, Any] | None:
        """Additive sufficient statistics: count, sum, sum of squares about self.mu."""
        return self._sums(data)

    def _sums(self, data: Data) -> np.ndarray[Any, Any]:
        x = np.asarray(data, dtype=float) - self.mu
        return np.array([len(x), x.sum(), np.dot(x, x)])

    def fit_stats(
        self, stats: np.ndarray[Any, Any], rng: np.random.Generator
    ) -> tuple[float, float]:
        count, total, squares = (float(v) for v in stats)
        mean = total / count
        var = max(squares - count * mean**2, 0.0) / (count - self.ddof)
        return self.mu + mean, math.sqrt(var)

    def sample(self, model: Any, n: int, rng: np.random.Generator) -> Data:
        mu, sigma = model
        return rng.normal(mu, sigma, size=n)

    def metrics(self, model: Any, rng: np.random.Generator) -> dict[str, float]:
        mu, sigma = model
        return {
            "mean": mu,
            "mean_sq_error": (mu - self.mu) ** 2 / self.sigma**2,
            "var_ratio": sigma**2 / self.sigma**2,
            "log_var_ratio": 2 * math.log(max(sigma, 1e-300) / self.sigma),
            "w2": math.hypot(mu - self.mu, sigma - self.sigma),
        }

    def verify(self, model: Any, candidates: Data, rng: np.random.Generator) -> Data:
        return importance_resample(
            candidates,
            _log_normal(candidates, self.mu, self.sigma),
            _log_normal(candidates, *model),
            self.n,
            rng,
        )

    def theory(self, policy: str, generation: int) -> dict[str, float]:
        """Exact expectations under replace (t + 1 independent fits); see the module doc."""
        if policy != "replace":
            return {}
        return replace_theory(self.n, self.ddof, generation)


@lru_cache(maxsize=65536)
def replace_theory(n: int, ddof: int, generation: int) -> dict[str, float]:
    """E[var ratio], E[log var ratio] (whose exp is about the median) and E[(mu_t - mu)^2]
    / sigma^2 after generation t under replace (Shumailov et al. 2024, Thm 3.1 proof)."""
    m = generation + 1
    factor = (n - 1) / (n - ddof)  # E[chi2(n-1) / (n - ddof)]
    log_mean = m * log_chi2_mean(n, n - ddof)
    # mu_t = mu_{t-1} + N(0, var_{t-1} / n): the squared error adds E[var_j] / n per step
    mse = sum(factor**j for j in range(m)) / n
    return {
        "theory_var_ratio_mean": factor**m,
        "theory_log_var_ratio_mean": log_mean,
        "theory_log_var_ratio_var": m * log_chi2_var(n),
        "theory_var_ratio_median": math.exp(log_mean),
        "theory_mean_sq_error_mean": mse,
    }


def _special() -> Any:
    try:
        import scipy.special
    except ImportError:
        raise MissingExtraError("scipy", "lab") from None
    return scipy.special


def log_chi2_mean(n: int, divisor: int | None = None) -> float:
    """E[log(chi2(n-1)/divisor)]: the mean log variance ratio one fit adds (MLE: divisor n)."""
    k = n if divisor is None else divisor
    return float(_special().digamma((n - 1) / 2) + math.log(2 / k))


def log_chi2_var(n: int) -> float:
    """Var[log(chi2(n-1)/k)] = psi'((n-1)/2), whatever the divisor k."""
    return float(_special().polygamma(1, (n - 1) / 2))


def _log_normal(x: Data, mu: float, sigma: float) -> np.ndarray[Any, Any]:
    sigma = max(sigma, 1e-12)
    return np.asarray(-0.5 * ((x - mu) / sigma) ** 2 - math.log(sigma))
