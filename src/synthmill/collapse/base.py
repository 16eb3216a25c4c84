"""What a model family of the collapse lab must do: make real data, fit, sample, measure.

Data is always a numpy array whose first axis is rows (numbers, or Python objects such as
token tuples for text), so the training policies can concatenate and subsample any family
the same way.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from synthmill.errors import ConfigError

Data = np.ndarray[Any, Any]


def need(condition: bool, message: str) -> None:
    """A ConfigError with `message` unless `condition` holds (parameter validation)."""
    if not condition:
        raise ConfigError(message)


class Family(ABC):
    """A model family: the truth it learns, how it fits and samples, and what to measure."""

    name: ClassVar[str] = "family"
    #: how many candidates the verified policy draws per synthetic row it needs.
    verify_oversample: ClassVar[int] = 4

    def __init__(self, n: int) -> None:
        self.n = n

    @abstractmethod
    def real(self, rng: np.random.Generator) -> Data:
        """The real (human) data set the chain starts from: self.n rows from the truth."""

    @abstractmethod
    def fit(self, data: Data, rng: np.random.Generator) -> Any:
        """Train a model on `data`."""

    @abstractmethod
    def sample(self, model: Any, n: int, rng: np.random.Generator) -> Data:
        """Draw n synthetic rows from a fitted model."""

    @abstractmethod
    def metrics(self, model: Any, rng: np.random.Generator) -> dict[str, float]:
        """How far the fitted model is from the truth (the numbers the lab plots)."""

    @abstractmethod
    def verify(self, model: Any, candidates: Data, rng: np.random.Generator) -> Data:
        """Pick up to self.n good rows out of the candidates, with access to the truth."""

    def theory(self, policy: str, generation: int) -> dict[str, float]:
        """Closed-form expectations of some metrics, where theory gives them."""
        return {}

    def extras(self, seeds: int) -> dict[str, Any]:
        """Experiments beside the chains that belong to this family (default: none)."""
        return {}

    def stats(self, data: Data) -> np.ndarray[Any, Any] | None:
        """Additive sufficient statistics of `data`, or None when the family has none.

        Where stats(a) + stats(b) == stats(a ++ b) and fit_stats(stats(d)) == fit(d), the
        accumulate policy keeps the running sum instead of copying a growing pool.
        """
        return None

    def fit_stats(self, stats: np.ndarray[Any, Any], rng: np.random.Generator) -> Any:
        """Train a model from sufficient statistics (only called when stats() is not None)."""
        raise NotImplementedError

    @classmethod
    def params(cls) -> dict[str, Any]:
        """Every constructor parameter and its default: what the CLI can set."""
        sig = inspect.signature(cls.__init__)
        return {k: p.default for k, p in sig.parameters.items() if k != "self"}

    def config(self) -> dict[str, Any]:
        """The sizes and parameters of this family, written into the results JSON."""
        return {k: getattr(self, k) for k in self.params() if hasattr(self, k)}


def importance_resample(
    candidates: Data,
    log_true: np.ndarray[Any, Any],
    log_model: np.ndarray[Any, Any],
    n: int,
    rng: np.random.Generator,
) -> Data:
    """A verifier that knows the true density: resample candidates by p_true / p_model.

    With many candidates per row this turns model samples into truth samples (sampling
    importance resampling), so it shows the best a verifier can do for a density model.
    """
    logw = log_true - log_model
    w = np.exp(logw - logw.max())
    take = min(n, int(np.count_nonzero(w > 0)))
    idx = rng.choice(len(candidates), size=take, replace=False, p=w / w.sum())
    return candidates[np.sort(idx)]
