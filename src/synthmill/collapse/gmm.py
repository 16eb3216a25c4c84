"""A 2-D Gaussian mixture fitted by EM (scikit-learn), with the L2 distance to the truth.

The L2 distance between two Gaussian mixtures is closed-form, because the integral of a
product of two Gaussian densities is a Gaussian density:
int N(x; a, A) N(x; b, B) dx = N(a; b, A + B).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from synthmill.collapse.base import Data, Family, importance_resample, need
from synthmill.errors import MissingExtraError

Mixture = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]

TRUE_WEIGHTS = np.array([0.6, 0.3, 0.1])  # the 10% component is the tail that collapses
TRUE_MEANS = np.array([[0.0, 0.0], [3.0, 1.0], [-2.0, 3.5]])
TRUE_COVS = np.array(
    [[[1.0, 0.3], [0.3, 0.6]], [[0.5, 0.0], [0.0, 0.5]], [[0.3, -0.1], [-0.1, 0.4]]]
)


class GaussianMixture(Family):
    name: ClassVar[str] = "gmm"

    def __init__(self, n: int = 300, components: int = 3) -> None:
        super().__init__(n)
        need(components >= 1, "gmm: components must be at least 1")
        need(n >= 2 * components, "gmm: n must be at least 2 x components for EM to fit")
        self.components = components
        self.truth: Mixture = (TRUE_WEIGHTS, TRUE_MEANS, TRUE_COVS)

    def real(self, rng: np.random.Generator) -> Data:
        return sample_mixture(self.truth, self.n, rng)

    def fit(self, data: Data, rng: np.random.Generator) -> Mixture:
        try:
            from sklearn.mixture import GaussianMixture as SkMixture
        except ImportError:
            raise MissingExtraError("scikit-learn", "lab") from None
        seed = int(rng.integers(2**31))
        gm = SkMixture(self.components, init_params="k-means++", random_state=seed).fit(data)
        return gm.weights_, gm.means_, gm.covariances_

    def sample(self, model: Any, n: int, rng: np.random.Generator) -> Data:
        return sample_mixture(model, n, rng)

    def metrics(self, model: Any, rng: np.random.Generator) -> dict[str, float]:
        smallest = float(np.min(model[0]))
        return {
            "l2": l2_distance(model, self.truth),
            "smallest_weight": smallest,
            "total_variance_ratio": _total_var(model) / _total_var(self.truth),
        }

    def verify(self, model: Any, candidates: Data, rng: np.random.Generator) -> Data:
        log_true = log_density(self.truth, candidates)
        return importance_resample(
            candidates, log_true, log_density(model, candidates), self.n, rng
        )


def sample_mixture(m: Mixture, n: int, rng: np.random.Generator) -> Data:
    weights, means, covs = m
    counts = rng.multinomial(n, weights / weights.sum())
    parts = [rng.multivariate_normal(means[k], covs[k], size=c) for k, c in enumerate(counts)]
    data = np.concatenate(parts)
    return data[rng.permutation(len(data))]


def _gauss(x: np.ndarray[Any, Any], mean: np.ndarray[Any, Any], cov: np.ndarray[Any, Any]) -> Any:
    """The density N(x; mean, cov) for rows of x."""
    d = x.shape[-1]
    diff = x - mean
    sol = np.linalg.solve(cov, diff.T).T
    quad = np.sum(diff * sol, axis=-1)
    norm = math.sqrt((2 * math.pi) ** d * float(np.linalg.det(cov)))
    return np.exp(-0.5 * quad) / norm


def log_density(m: Mixture, x: Data) -> np.ndarray[Any, Any]:
    weights, means, covs = m
    dens = sum(w * _gauss(x, mu, c) for w, mu, c in zip(weights, means, covs, strict=True))
    return np.asarray(np.log(np.maximum(dens, 1e-300)))


def _cross(a: Mixture, b: Mixture) -> float:
    """int p_a p_b dx for two mixtures."""
    total = 0.0
    for wa, ma, ca in zip(*a, strict=True):
        for wb, mb, cb in zip(*b, strict=True):
            total += wa * wb * float(_gauss(ma[None, :], mb, ca + cb)[0])
    return total


def l2_distance(a: Mixture, b: Mixture) -> float:
    """sqrt(int (p_a - p_b)^2 dx), in closed form."""
    return math.sqrt(max(_cross(a, a) - 2 * _cross(a, b) + _cross(b, b), 0.0))


def _total_var(m: Mixture) -> float:
    weights, means, covs = m
    mean = weights @ means
    parts = zip(weights, means, covs, strict=True)
    return float(sum(w * (np.trace(c) + float(np.sum((mu - mean) ** 2))) for w, mu, c in parts))
