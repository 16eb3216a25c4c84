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

from synthmill.collapse.base import Data, Family

UNSEEN = -1
TAIL_CUTS = (50, 200, 1000)
CLEAN_FRACTIONS = (0.0, 0.05, 0.1, 0.2, 0.5, 1.0)


class ZipfMemorizer(Family):
    name: ClassVar[str] = "zipf"
    verify_oversample: ClassVar[int] = 2

    def __init__(
        self,
        n: int = 2000,
        keys: int = 10_000,
        beta: float = 1.5,
        labels: int = 10,
        tail_cut: int = 200,
        label_noise: float = 0.05,
    ) -> None:
        super().__init__(n)
        self.keys, self.beta, self.labels = keys, beta, labels
        self.tail_cut, self.label_noise = tail_cut, label_noise
        self.p = zipf_probs(keys, beta)
        self.true_labels = (np.arange(keys) * 2654435761) % labels

    def real(self, rng: np.random.Generator) -> Data:
        keys = rng.choice(self.keys, size=self.n, p=self.p)
        return np.column_stack([keys, self.true_labels[keys]])

    def fit(self, data: Data, rng: np.random.Generator) -> tuple[Data, Data]:
        """Per key: how often it was seen, and its majority label (UNSEEN if never)."""
        flat = data[:, 0] * self.labels + data[:, 1]
        joint = np.bincount(flat, minlength=self.keys * self.labels).reshape(-1, self.labels)
        counts = joint.sum(axis=1)
        stored = np.where(counts > 0, joint.argmax(axis=1), UNSEEN)
        return counts, stored

    def sample(self, model: Any, n: int, rng: np.random.Generator) -> Data:
        counts, stored = model
        top = np.argsort(-counts, kind="stable")[: self.tail_cut]
        top = top[counts[top] > 0]
        keys = rng.choice(top, size=n, p=counts[top] / counts[top].sum())
        labels = stored[keys]
        flip = rng.random(n) < self.label_noise
        shift = rng.integers(1, self.labels, size=n)
        labels = np.where(flip, (labels + shift) % self.labels, labels)
        return np.column_stack([keys, labels])

    def metrics(self, model: Any, rng: np.random.Generator) -> dict[str, float]:
        counts, stored = model
        seen = counts > 0
        return {
            "test_error": float(self.p[stored != self.true_labels].sum()),
            "unseen_mass": float(self.p[~seen].sum()),
            "support": float(seen.sum()),
        }

    def extras(self, seeds: int) -> dict[str, Any]:
        """One step of Dohmatob et al.: error vs tail cut k and clean share, with theory."""
        rng = np.random.default_rng(0)
        sweep = []
        for k in TAIL_CUTS:
            for clean in CLEAN_FRACTIONS:
                runs = [tail_cut_error(self.p, self.n, k, clean, rng) for _ in range(seeds)]
                expected = tail_cut_expected_error(self.p, self.n, k, clean)
                sweep.append(
                    {"tail_cut": k, "clean_fraction": clean, "errors": runs, "expected": expected}
                )
        return {"tail_cut_sweep": sweep}

    def verify(self, model: Any, candidates: Data, rng: np.random.Generator) -> Data:
        """Drop rows whose label is wrong (a checker that knows f)."""
        ok = candidates[:, 1] == self.true_labels[candidates[:, 0]]
        return np.asarray(candidates[ok][: self.n])


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
    seen = np.bincount(rng.choice(len(p), size=n, p=q), minlength=len(p)) > 0
    return float(p[~seen].sum())


def tail_cut_expected_error(p: Data, n: int, tail_cut: int, clean_fraction: float) -> float:
    """E[error] = sum_i p_i (1 - q_i)^n."""
    q = mixed_probs(p, tail_cut, clean_fraction)
    return float(np.sum(p * (1 - q) ** n))


def tail_cut_error_var_bound(p: Data, n: int, tail_cut: int, clean_fraction: float) -> float:
    """An upper bound on Var[error]: sum_i p_i^2 u_i (1 - u_i), u_i = (1 - q_i)^n.

    Under multinomial sampling the events "key i unseen" are negatively correlated, so the
    variance of sum_i p_i 1[unseen_i] is at most the sum of the per-key variances.
    """
    u = (1 - mixed_probs(p, tail_cut, clean_fraction)) ** n
    return float(np.sum(p**2 * u * (1 - u)))
