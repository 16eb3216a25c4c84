"""Training policies for recursive training, and one chain of generations under a policy.

Generation 0 fits the real data. Generation t >= 1 draws n synthetic rows from the model
of generation t - 1 and trains on:
- replace:     only those synthetic rows (Shumailov et al. 2024);
- accumulate:  the real data and every synthetic batch so far (Gerstgrasser et al. 2024);
- keep-real:   a fresh `real_fraction` share of the real data plus synthetic rows, n in all;
- accumulate-subsample: n rows drawn from everything accumulated (a fixed budget);
- verified:    like replace, but a verifier that knows the truth picks the n synthetic rows
               out of `verify_oversample * n` candidates (Feng et al. 2024).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


def _synthetic(family: Family, model: Any, policy: str, n: int, rng: np.random.Generator) -> Data:
    if policy != "verified":
        return family.sample(model, n, rng)
    candidates = family.sample(model, n * family.verify_oversample, rng)
    return family.verify(model, candidates, rng)[:n]


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
) -> list[dict[str, Any]]:
    """One seed of one policy: metrics for generations 0..generations.

    Wrap many calls in single_threaded() when the family uses scikit-learn.
    """
    rng = np.random.default_rng(seed)
    real = family.real(rng)
    train, pool, n_real = real, real, len(real)
    rows: list[dict[str, Any]] = []
    for t in range(generations + 1):
        model = family.fit(train, rng)
        row: dict[str, Any] = {"policy": policy, "seed": seed, "generation": t}
        row.update(train_size=len(train), real_share=n_real / max(len(train), 1))
        row.update(family.metrics(model, rng))
        row.update(family.theory(policy, t))
        rows.append(row)
        if t == generations:
            break
        synthetic = _synthetic(family, model, policy, family.n, rng)
        train, n_real = next_training_set(policy, real, pool, synthetic, real_fraction, rng)
        pool = np.concatenate([pool, synthetic]) if policy.startswith("accumulate") else pool
    return rows
