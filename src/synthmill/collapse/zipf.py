"""A Zipf "memorizer" (Dohmatob et al. 2024, "A Tale of Tails").

Keys i = 1..M are drawn with p_i proportional to i^-beta and carry a fixed label f(i).
The model memorizes the majority label of every key it saw; its test error is the true
mass of keys it never saw or labels wrongly. A generator built from it writes only its
`tail_cut` most frequent keys (as top-k decoding does) and flips a label with
probability `label_noise`, so the tail disappears and errors compound.

For one step, training on n rows from q = c p + (1 - c) p_k (a clean share c mixed with
p cut at rank k) gives E[error] = sum_i p_i (1 - q_i)^n (each key is unseen with
probability (1 - q_i)^n): the cut keeps an error floor of at least p's mass beyond
rank k unless clean data is mixed in.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from synthmill.collapse.base import Data, Family, need

TAIL_CUTS = (50, 200, 1000)
CLEAN_FRACTIONS = (0.0, 0.05, 0.1, 0.2, 0.5, 1.0)
SIZES = (100, 300, 1000, 3000, 10_000, 30_000, 100_000)
# 10,000 keys steepen the measured slope (about -0.4 to -0.5 for beta 1.5 instead of -1/3):
# the keys beyond rank 10,000 are missing, so the error runs out of tail. With 10^6 keys
# the exact expected error has slope -0.336 over T = 100..10,000 (-1/3 asymptotically).
DEFAULT_KEYS = 1_000_000

# A model: the keys seen (ascending), how often each was seen, and its majority label.
Memory = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]


class ZipfMemorizer(Family):
    name: ClassVar[str] = "zipf"
    verify_oversample: ClassVar[int] = 2

    def __init__(
        self,
        n: int = 2000,
        keys: int = DEFAULT_KEYS,
        beta: float = 1.5,
        labels: int = 10,
        tail_cut: int = 200,
        label_noise: float = 0.05,
        sizes: tuple[int, ...] = SIZES,
    ) -> None:
        super().__init__(n)
        need(n >= 1, "zipf: n must be at least 1")
        need(2 <= keys <= 20_000_000, "zipf: keys must be between 2 and 20,000,000")
        need(beta > 1, "zipf: beta must be above 1 (a Zipf law with a finite mean mass)")
        need(labels >= 2, "zipf: labels must be at least 2")
        need(1 <= tail_cut <= keys, "zipf: tail_cut must be between 1 and keys")
        need(0 <= label_noise < 1, "zipf: label_noise must be in [0, 1)")
        need(len(sizes) >= 2 and min(sizes) >= 1, "zipf: sizes needs two or more positive T")
        self.keys, self.beta, self.labels = keys, beta, labels
        self.tail_cut, self.label_noise = tail_cut, label_noise
        self.sizes = tuple(sorted(int(t) for t in sizes))
        self.p = zipf_probs(keys, beta)
        self._cdf = np.cumsum(self.p)
        self.true_labels = (np.arange(keys) * 2654435761) % labels

    def real(self, rng: np.random.Generator) -> Data:
        keys = draw(self._cdf, self.n, rng)
        return np.column_stack([keys, self.true_labels[keys]])

    def fit(self, data: Data, rng: np.random.Generator) -> Memory:
        """Per seen key: how often it was seen, and its majority label."""
        codes, counts = np.unique(data[:, 0] * self.labels + data[:, 1], return_counts=True)
        keys = codes // self.labels
        order = np.lexsort((-counts, keys))  # per key, the most frequent label first
        keys, codes, counts = keys[order], codes[order], counts[order]
        first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        return keys[first], np.add.reduceat(counts, first), codes[first] % self.labels

    def sample(self, model: Any, n: int, rng: np.random.Generator) -> Data:
        keys, counts, stored = model
        top = np.argsort(-counts, kind="stable")[: self.tail_cut]
        idx = rng.choice(top, size=n, p=counts[top] / counts[top].sum())
        labels = stored[idx]
        flip = rng.random(n) < self.label_noise
        shift = rng.integers(1, self.labels, size=n)
        labels = np.where(flip, (labels + shift) % self.labels, labels)
        return np.column_stack([keys[idx], labels])

    def metrics(self, model: Any, rng: np.random.Generator) -> dict[str, float]:
        keys, _, stored = model
        right = stored == self.true_labels[keys]
        return {
            "test_error": float(1.0 - self.p[keys[right]].sum()),
            "unseen_mass": float(1.0 - self.p[keys].sum()),
            "support": float(len(keys)),
        }

    def extras(self, seeds: int) -> dict[str, Any]:
        """Dohmatob et al.'s one-step experiments: error vs tail cut k and clean share, and
        error vs T (clean, and cut at each k) for the log-log scaling figure."""
        rng = np.random.default_rng(0)
        sweep = []
        for k in TAIL_CUTS:
            for clean in CLEAN_FRACTIONS:
                runs = tail_cut_errors(self.p, self.n, k, clean, rng, seeds)
                expected = tail_cut_expected_error(self.p, self.n, k, clean)
                sweep.append(
                    {"tail_cut": k, "clean_fraction": clean, "errors": runs, "expected": expected}
                )
        return {"tail_cut_sweep": sweep, "scaling": self.scaling(seeds, rng)}

    def scaling(self, seeds: int, rng: np.random.Generator) -> list[dict[str, Any]]:
        """Error of a memorizer trained on T rows, for each T in self.sizes, without a cut
        (tail_cut None) and cut at each of TAIL_CUTS, with the exact expectation."""
        out = []
        for k in (None, *TAIL_CUTS):
            cut = self.keys if k is None else k
            for t in self.sizes:
                runs = tail_cut_errors(self.p, t, cut, 0.0, rng, seeds)
                expected = tail_cut_expected_error(self.p, t, cut, 0.0)
                entry = {"tail_cut": k, "T": t, "errors": runs, "expected": expected}
                out.append(entry if k else {**entry, "slope": self.slope_theory()})
        return out

    def verify(self, model: Any, candidates: Data, rng: np.random.Generator) -> Data:
        """Drop rows whose label is wrong (a checker that knows f)."""
        ok = candidates[:, 1] == self.true_labels[candidates[:, 0]]
        return np.asarray(candidates[ok][: self.n])

    def slope_theory(self) -> float:
        """The memorizer's scaling exponent: E_test ~ T^-(1 - 1/beta) (Hutter 2021, as
        restated in Dohmatob et al. 2024, Sec. 2); -1/3 for beta = 1.5."""
        return -(1.0 - 1.0 / self.beta)


def draw(cdf: np.ndarray[Any, Any], n: int, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """n keys by inverse CDF (one binary search each; no per-call O(keys) set-up)."""
    keys = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
    return np.asarray(np.minimum(keys, len(cdf) - 1))


def log_slope(sizes: Any, errors: Any) -> float:
    """Least-squares slope of log(error) against log(T)."""
    x, y = np.log(np.asarray(sizes, float)), np.log(np.asarray(errors, float))
    return float(np.polyfit(x, y, 1)[0])


def zipf_probs(keys: int, beta: float) -> np.ndarray[Any, Any]:
    p = np.arange(1, keys + 1, dtype=float) ** -beta
    return np.asarray(p / p.sum())


def mixed_probs(p: Data, tail_cut: int, clean_fraction: float) -> np.ndarray[Any, Any]:
    """q = c p + (1 - c) p_k, p_k being p cut at rank k and renormalized."""
    cut = np.where(np.arange(len(p)) < tail_cut, p, 0.0)
    return np.asarray(clean_fraction * p + (1 - clean_fraction) * cut / cut.sum())


def tail_cut_error(
    p: Data, n: int, tail_cut: int, clean_fraction: float, rng: np.random.Generator
) -> float:
    """Test error of a memorizer trained on n rows from the cut-and-mixed distribution."""
    q = mixed_probs(p, tail_cut, clean_fraction)
    seen = np.unique(draw(np.cumsum(q), n, rng))
    return float(1.0 - p[seen].sum())


def tail_cut_errors(
    p: Data, n: int, tail_cut: int, clean_fraction: float, rng: np.random.Generator, seeds: int
) -> list[float]:
    """tail_cut_error for `seeds` independent training sets (the CDF is built once)."""
    cdf = np.cumsum(mixed_probs(p, tail_cut, clean_fraction))
    return [float(1.0 - p[np.unique(draw(cdf, n, rng))].sum()) for _ in range(seeds)]


def tail_cut_expected_error(p: Data, n: int, tail_cut: int, clean_fraction: float) -> float:
    """E[error] = sum_i p_i (1 - q_i)^n."""
    q = mixed_probs(p, tail_cut, clean_fraction)
    return float(np.sum(p * np.exp(n * np.log1p(-np.minimum(q, 1 - 1e-16)))))


def tail_cut_error_var_bound(p: Data, n: int, tail_cut: int, clean_fraction: float) -> float:
    """An upper bound on Var[error]: sum_i p_i^2 u_i (1 - u_i), u_i = (1 - q_i)^n.

    Under multinomial sampling the events "key i unseen" are negatively correlated, so the
    variance of sum_i p_i 1[unseen_i] is at most the sum of the per-key variances.
    """
    u = (1 - mixed_probs(p, tail_cut, clean_fraction)) ** n
    return float(np.sum(p**2 * u * (1 - u)))
