"""A single Gaussian fitted by maximum likelihood: the textbook case of model collapse.

With the MLE variance (divide by n), one generation multiplies the variance by
chi2(n-1)/n, so under `replace` the variance ratio after generation t is a product of
t + 1 independent chi2(n-1)/n factors: its log has mean (t+1)(psi((n-1)/2) + log(2/n))
and variance (t+1) psi'((n-1)/2), and the variance drifts to zero.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from synthmill.collapse.base import Data, Family, importance_resample
from synthmill.errors import MissingExtraError


class Gaussian(Family):
    name: ClassVar[str] = "gaussian"

    def __init__(self, n: int = 100, mu: float = 0.0, sigma: float = 1.0) -> None:
        super().__init__(n)
        self.mu, self.sigma = mu, sigma

    def real(self, rng: np.random.Generator) -> Data:
        return rng.normal(self.mu, self.sigma, size=self.n)

    def fit(self, data: Data, rng: np.random.Generator) -> tuple[float, float]:
        return float(np.mean(data)), float(np.std(data))  # MLE: ddof=0

    def sample(self, model: Any, n: int, rng: np.random.Generator) -> Data:
        mu, sigma = model
        return rng.normal(mu, sigma, size=n)

    def metrics(self, model: Any, rng: np.random.Generator) -> dict[str, float]:
        mu, sigma = model
        return {
            "mean": mu,
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
        if policy != "replace":
            return {}
        m = generation + 1
        return {
            "theory_log_var_ratio_mean": m * log_chi2_mean(self.n),
            "theory_log_var_ratio_var": m * log_chi2_var(self.n),
        }


def _special() -> Any:
    try:
        import scipy.special
    except ImportError:
        raise MissingExtraError("scipy", "lab") from None
    return scipy.special


def log_chi2_mean(n: int) -> float:
    """E[log(chi2(n-1)/n)]: the mean log variance ratio one MLE fit adds."""
    return float(_special().digamma((n - 1) / 2) + math.log(2 / n))


def log_chi2_var(n: int) -> float:
    """Var[log(chi2(n-1)/n)] = psi'((n-1)/2)."""
    return float(_special().polygamma(1, (n - 1) / 2))


def _log_normal(x: Data, mu: float, sigma: float) -> np.ndarray[Any, Any]:
    sigma = max(sigma, 1e-12)
    return np.asarray(-0.5 * ((x - mu) / sigma) ** 2 - math.log(sigma))
