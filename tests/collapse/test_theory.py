"""The lab against closed-form theory: fixed seeds, tolerances from the theory's own variance.

Every statistical check compares a mean over S independent seeds with its expectation and
allows 4 standard errors (a false alarm about once in 16,000 runs for a normal mean); the
standard error comes from the theoretical variance where theory gives it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from synthmill.collapse.gaussian import Gaussian, log_chi2_mean, log_chi2_var
from synthmill.collapse.policies import run_chain
from synthmill.collapse.regression import ACCUMULATE_LIMIT, Regression
from synthmill.collapse.zipf import (
    ZipfMemorizer,
    tail_cut_error,
    tail_cut_error_var_bound,
    tail_cut_errors,
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
    rows = _chains(Gaussian(n=n, estimator="mle"), "replace", t, seeds)
    for gen in (0, 5, t):
        logs = np.log(_at(rows, gen, "var_ratio"))
        expected = (gen + 1) * log_chi2_mean(n)
        se = math.sqrt((gen + 1) * log_chi2_var(n) / seeds)
        assert abs(logs.mean() - expected) < Z * se, (gen, logs.mean(), expected)
    assert np.median(_at(rows, t, "var_ratio")) < 1.0  # the variance collapses


def test_gaussian_accumulate_keeps_the_variance_that_replace_loses() -> None:
    n, t, seeds = 20, 10, 200
    family = Gaussian(n=n, estimator="mle")
    replace = np.log(_at(_chains(family, "replace", t, seeds), t, "var_ratio"))
    accumulate = np.log(_at(_chains(family, "accumulate", t, seeds), t, "var_ratio"))
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
        batch = np.array(tail_cut_errors(p, n, k, clean, rng, seeds))  # the lab's fast path
        assert abs(batch.mean() - expected) < Z * se, (clean, batch.mean(), expected)
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


@pytest.mark.slow
def test_gaussian_unbiased_variance_is_a_martingale_whose_median_collapses() -> None:
    # Shumailov et al. Thm 3.1: with the unbiased variance E[var_t] = var for every t, while
    # E[log var_t] = (t+1) E[log(chi2(n-1)/(n-1))] < 0 drives the median to 0. The MLE
    # variance decays in the mean too, as ((n-1)/n)^(t+1): the test tells them apart.
    n, t, seeds = 10, 30, 1500
    unbiased = _chains(Gaussian(n=n), "replace", t, seeds)
    ratio = _at(unbiased, t, "var_ratio")
    se = math.sqrt(((n + 1) / (n - 1)) ** (t + 1) - 1) / math.sqrt(seeds)  # theory s.d.
    assert abs(ratio.mean() - 1.0) < Z * se
    logs = _at(unbiased, t, "log_var_ratio")
    expected = (t + 1) * log_chi2_mean(n, n - 1)
    assert abs(logs.mean() - expected) < Z * math.sqrt((t + 1) * log_chi2_var(n) / seeds)
    assert np.median(ratio) < 0.3  # exp(E log) = 0.19: the typical chain has collapsed
    mle = _at(_chains(Gaussian(n=n, estimator="mle"), "replace", t, seeds), t, "var_ratio")
    assert abs(mle.mean() - 0.9 ** (t + 1)) < Z * mle.std() / math.sqrt(seeds)
    assert mle.mean() < 0.2  # far from the martingale's 1
    mse = _at(unbiased, t, "mean_sq_error")  # (t+1)/n
    assert abs(mse.mean() - (t + 1) / n) < Z * mse.std() / math.sqrt(seeds)


def test_sufficient_statistics_fit_like_the_data() -> None:
    # The accumulate shortcut must fit exactly what fitting the concatenated pool fits.
    rng = np.random.default_rng(3)
    for family in (Gaussian(n=30), Gaussian(n=30, estimator="mle"), Regression(n=40, d=3)):
        a, b = family.real(rng), family.real(rng)
        whole = family.fit(np.concatenate([a, b]), rng)
        parts = family.fit_stats(family.stats(a) + family.stats(b), rng)
        np.testing.assert_allclose(np.asarray(parts), np.asarray(whole), rtol=1e-9, atol=1e-12)


def test_accumulate_with_statistics_matches_the_pool_chain() -> None:
    # Same seed, same draws: the statistics path and a pool path give the same metrics.
    class NoStats(Gaussian):
        def stats(self, data):  # type: ignore[no-untyped-def]
            return None

    fast = run_chain(Gaussian(n=25), "accumulate", 6, 11)
    slow = run_chain(NoStats(n=25), "accumulate", 6, 11)
    for f, s in zip(fast, slow, strict=True):
        assert f["train_size"] == s["train_size"]
        assert f["var_ratio"] == pytest.approx(s["var_ratio"], rel=1e-9)


def test_fixed_design_accumulate_matches_gerstgrasser_exactly() -> None:
    family, t, seeds = Regression(n=40, d=4), 5, 400
    err = _at(_chains(family, "accumulate", t, seeds), t, "excess_error")
    expected = sum(1 / j**2 for j in range(1, t + 2)) * family.one_fit_error()
    assert abs(err.mean() - expected) < Z * err.std() / math.sqrt(seeds)


def test_zipf_sparse_memorizer_keeps_the_majority_label() -> None:
    family = ZipfMemorizer(keys=50, labels=3, tail_cut=20)
    data = np.array([[4, 1], [4, 2], [4, 2], [7, 0], [2, 1], [2, 1], [2, 0]])
    keys, counts, stored = family.fit(data, np.random.default_rng(0))
    assert keys.tolist() == [2, 4, 7] and counts.tolist() == [3, 3, 1]
    assert stored.tolist() == [1, 2, 0]
    m = family.metrics((keys, counts, stored), np.random.default_rng(0))
    right = [k for k, s in zip(keys, stored, strict=True) if family.true_labels[k] == s]
    assert m["test_error"] == pytest.approx(1 - family.p[right].sum())
    assert m["unseen_mass"] == pytest.approx(1 - family.p[[2, 4, 7]].sum())
