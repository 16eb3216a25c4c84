"""The lab against closed-form theory: fixed seeds, tolerances from the theory's own variance.

Every statistical check compares a mean over S independent seeds with its expectation and
allows 4 standard errors (a false alarm about once in 16,000 runs for a normal mean); the
standard error comes from the theoretical variance where theory gives it.
"""

from __future__ import annotations

import math

import numpy as np

from synthmill.collapse.gaussian import Gaussian, log_chi2_mean, log_chi2_var
from synthmill.collapse.policies import run_chain
from synthmill.collapse.regression import ACCUMULATE_LIMIT, Regression
from synthmill.collapse.zipf import (
    ZipfMemorizer,
    tail_cut_error,
    tail_cut_error_var_bound,
    tail_cut_expected_error,
    zipf_probs,
)

Z = 4.0  # standard errors allowed


def _at(rows: list[dict[str, float]], generation: int, key: str) -> np.ndarray:
    return np.array([r[key] for r in rows if r["generation"] == generation])


def _chains(family, policy: str, generations: int, seeds: int) -> list[dict[str, float]]:
    return [r for s in range(seeds) for r in run_chain(family, policy, generations, s)]


def test_gaussian_replace_variance_decays_as_a_product_of_chi_squares() -> None:
    # log(var ratio) after generation t is a sum of t + 1 iid log(chi2(n-1)/n) terms, so its
    # mean over S seeds has expectation (t+1) m and standard error sqrt((t+1) v / S).
    n, t, seeds = 20, 10, 400
    rows = _chains(Gaussian(n=n), "replace", t, seeds)
    for gen in (0, 5, t):
        logs = np.log(_at(rows, gen, "var_ratio"))
        expected = (gen + 1) * log_chi2_mean(n)
        se = math.sqrt((gen + 1) * log_chi2_var(n) / seeds)
        assert abs(logs.mean() - expected) < Z * se, (gen, logs.mean(), expected)
    assert np.median(_at(rows, t, "var_ratio")) < 1.0  # the variance collapses


def test_gaussian_accumulate_keeps_the_variance_that_replace_loses() -> None:
    n, t, seeds = 20, 10, 200
    replace = np.log(_at(_chains(Gaussian(n=n), "replace", t, seeds), t, "var_ratio"))
    accumulate = np.log(_at(_chains(Gaussian(n=n), "accumulate", t, seeds), t, "var_ratio"))
    se = math.sqrt(replace.var() / seeds + accumulate.var() / seeds)
    assert accumulate.mean() - replace.mean() > Z * se


def test_regression_replace_error_grows_linearly_and_accumulate_stays_bounded() -> None:
    family, t, seeds = Regression(n=60, d=5), 8, 300
    one = family.one_fit_error()  # s^2 d / (n - d - 1)
    replace = _chains(family, "replace", t, seeds)
    for gen in (0, 4, t):
        err = _at(replace, gen, "excess_error")
        expected = (gen + 1) * one
        assert abs(err.mean() - expected) < Z * err.std() / math.sqrt(seeds), (gen, err.mean())
    accumulate = _at(_chains(family, "accumulate", t, seeds), t, "excess_error")
    bound = ACCUMULATE_LIMIT * one  # sum 1/j^2 < pi^2/6
    assert accumulate.mean() < bound + Z * accumulate.std() / math.sqrt(seeds)
    assert _at(replace, t, "excess_error").mean() > 3 * bound


def test_accumulate_keeps_every_real_row() -> None:
    rows = _chains(Regression(), "accumulate", 4, 1)
    assert [r["real_share"] for r in rows] == [1 / (g + 1) for g in range(5)]
    assert [r["train_size"] for r in rows] == [100 * (g + 1) for g in range(5)]


def test_zipf_tail_cut_error_matches_the_closed_form() -> None:
    # E[error] = sum_i p_i (1 - q_i)^n; Var is at most sum_i p_i^2 u_i (1 - u_i) because the
    # "unseen" events of a multinomial sample are negatively correlated.
    p, n, k, seeds = zipf_probs(5000, 1.3), 2000, 100, 200
    rng = np.random.default_rng(0)
    errors = {}
    for clean in (0.0, 0.1, 0.5, 1.0):
        got = np.array([tail_cut_error(p, n, k, clean, rng) for _ in range(seeds)])
        expected = tail_cut_expected_error(p, n, k, clean)
        se = math.sqrt(tail_cut_error_var_bound(p, n, k, clean) / seeds)
        assert abs(got.mean() - expected) < Z * se, (clean, got.mean(), expected)
        errors[clean] = expected
    assert errors[0.0] >= p[k:].sum()  # the cut leaves a floor: the mass beyond rank k
    assert errors[0.0] > errors[0.1] > errors[0.5] > errors[1.0]


def test_zipf_replace_cannot_beat_the_tail_mass_it_cut() -> None:
    # After generation 1 the model has seen at most `tail_cut` keys, so its error is at
    # least the true mass outside the top `tail_cut` ranks; deterministic, every seed.
    family = ZipfMemorizer(tail_cut=50)
    floor = family.p[50:].sum()
    rows = _chains(family, "replace", 3, 5)
    for gen in (1, 2, 3):
        assert (_at(rows, gen, "test_error") >= floor).all()
        assert (_at(rows, gen, "support") <= 50).all()
    assert (_at(rows, 0, "test_error") < floor).all()  # real data reaches into the tail
