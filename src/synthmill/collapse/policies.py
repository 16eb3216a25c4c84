"""Training policies for recursive training, and one chain of generations under a policy.

Generation 0 fits the real data. Generation t >= 1 draws n synthetic rows from the model
of generation t - 1 and trains on:
- replace:     only those synthetic rows (Shumailov et al. 2024);
- accumulate:  the real data and every synthetic batch so far (Gerstgrasser et al. 2024);
- keep-real:   a fresh `real_fraction` share of the real data plus synthetic rows, n in all;
- accumulate-subsample: n rows drawn from everything accumulated (a fixed budget);
- verified:    like replace, but a verifier that knows the truth keeps synthetic rows out
               of `verify_oversample` candidates per row, drawing again until it has
               `rows` of them (n by default; Feng et al. 2024).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from synthmill.collapse.base import Data, Family
from synthmill.errors import ConfigError

POLICIES = ("replace", "accumulate", "keep-real", "accumulate-subsample", "verified")


def check_policies(policies: list[str]) -> list[str]:
    """The policies, or a ConfigError naming the unknown one."""
    for p in policies:
        if p not in POLICIES:
            raise ConfigError(f"unknown policy {p!r}; use one of {', '.join(POLICIES)}")
    return policies


def _subsample(data: Data, n: int, rng: np.random.Generator) -> Data:
    if len(data) <= n:
        return data
    return data[np.sort(rng.choice(len(data), size=n, replace=False))]


@dataclass(frozen=True)
class Verification:
    """The verified policy's knobs: synthetic rows kept per generation (None: n) and
    candidates drawn per round (oversample x rows). Rounds repeat until `rows` pass or
    `max_rounds` is reached, so a strict verifier does not silently shrink the data."""

    rows: int | None = None
    oversample: int | None = None
    max_rounds: int = 50


def _verified(
    family: Family, model: Any, want: int, rng: np.random.Generator, how: Verification
) -> Data:
    oversample = how.oversample or family.verify_oversample
    kept: list[Data] = []
    have = 0
    for _ in range(how.max_rounds):
        candidates = family.sample(model, (want - have) * oversample, rng)
        good = family.verify(model, candidates, rng)[: want - have]
        kept.append(good)
        have += len(good)
        if have >= want:
            break
    return np.concatenate(kept)


def _synthetic(
    family: Family, model: Any, policy: str, rng: np.random.Generator, how: Verification
) -> Data:
    if policy != "verified":
        return family.sample(model, family.n, rng)
    return _verified(family, model, how.rows or family.n, rng, how)


def next_training_set(
    policy: str,
    real: Data,
    pool: Data,
    synthetic: Data,
    real_fraction: float,
    rng: np.random.Generator,
) -> tuple[Data, int]:
    """The next training set and how many of its rows are real."""
    n = len(real)
    if policy in ("replace", "verified"):
        return synthetic, 0
    if policy == "keep-real":
        k = round(real_fraction * n)
        kept = _subsample(real, k, rng)
        return np.concatenate([kept, synthetic[: n - k]]), len(kept)
    grown = np.concatenate([pool, synthetic])
    if policy == "accumulate":
        return grown, len(real)
    idx = np.sort(rng.choice(len(grown), size=min(n, len(grown)), replace=False))
    return grown[idx], int(np.count_nonzero(idx < len(real)))


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run BLAS/OpenMP single-threaded: the lab's models are tiny, and threads fighting
    over shared cores made a scikit-learn mixture fit 10-30 times slower here."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # no scikit-learn, so no threadpoolctl: nothing to limit
        yield
        return
    with threadpool_limits(1):
        yield


def run_chain(
    family: Family,
    policy: str,
    generations: int,
    seed: int,
    real_fraction: float = 0.2,
    verification: Verification | None = None,
) -> list[dict[str, Any]]:
    """One seed of one policy: metrics for generations 0..generations.

    Under accumulate, a family with additive sufficient statistics keeps their running
    sum instead of the growing pool (O(n) per generation instead of O(t n)).
    Wrap many calls in single_threaded() when the family uses scikit-learn.
    """
    how = verification or Verification()
    rng = np.random.default_rng(seed)
    real = family.real(rng)
    train, pool, n_real = real, real, len(real)
    acc = family.stats(real) if policy == "accumulate" else None
    size = len(real)
    rows: list[dict[str, Any]] = []
    for t in range(generations + 1):
        model = family.fit(train, rng) if acc is None or t == 0 else family.fit_stats(acc, rng)
        row: dict[str, Any] = {"policy": policy, "seed": seed, "generation": t}
        row.update(train_size=size, real_share=n_real / max(size, 1))
        row.update(family.metrics(model, rng))
        row.update(family.theory(policy, t))
        rows.append(row)
        if t == generations:
            break
        synthetic = _synthetic(family, model, policy, rng, how)
        if acc is not None:
            acc, size = acc + family.stats(synthetic), size + len(synthetic)
            continue
        train, n_real = next_training_set(policy, real, pool, synthetic, real_fraction, rng)
        pool = np.concatenate([pool, synthetic]) if policy.startswith("accumulate") else pool
        size = len(train)
    return rows
