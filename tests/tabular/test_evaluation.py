"""Known answers: a copy scores as a copy, independent columns lose pair trends, TSTR ~ TRTR."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from synthmill.tabular.copula import GaussianCopula
from synthmill.tabular.evaluation import evaluate, split_holdout
from synthmill.tabular.fidelity import ks_statistic, tvd
from synthmill.tabular.privacy import _nearest, dcr_share, equal_size_share
from tests.tabular.conftest import mixed_table


@pytest.fixture(scope="module")
def parts() -> tuple[pa.Table, pa.Table]:
    return split_holdout(mixed_table(1500), 0.3, seed=0, target="label")


def shuffled_columns(table: pa.Table, seed: int) -> pa.Table:
    """Each column permuted on its own: the same marginals, no dependence at all."""
    rng = np.random.default_rng(seed)
    cols = [
        table.column(c).take(pa.array(rng.permutation(table.num_rows))) for c in table.column_names
    ]
    return pa.table(cols, names=table.column_names)


def test_ks_and_tvd_match_their_definitions() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=500), rng.normal(0.3, 1, size=400)
    assert ks_statistic(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic)
    nan_a = np.r_[a, np.full(100, np.nan)]  # missing counts as a value of its own
    assert ks_statistic(nan_a, a) == pytest.approx(100 / 600)
    x = pa.chunked_array([["a", "a", "b", None]])
    y = pa.chunked_array([["a", "b", "b", "b"]])
    assert tvd(x, y) == pytest.approx(0.5)


@pytest.mark.slow
def test_training_data_as_synthetic_scores_as_a_copy(parts: tuple[pa.Table, pa.Table]) -> None:
    train, holdout = parts
    ev = evaluate(train, train, holdout, target="label")
    assert ev["fidelity"]["overall"] > 0.999
    priv = ev["privacy"]
    assert priv["exact_copies"] == train.num_rows
    assert priv["dcr_share"] > 0.95 and priv["mia_auc"] > 0.9
    assert ev["utility"]["tstr"] == ev["utility"]["trtr"]


def test_fresh_rows_from_the_same_source_score_as_private() -> None:
    train, holdout = split_holdout(mixed_table(1500, seed=0), 0.3, seed=0)
    fresh = mixed_table(1000, seed=9)
    priv = evaluate(train, fresh, holdout)["privacy"]
    assert 0.4 < priv["dcr_share"] < 0.6
    assert 0.4 < priv["mia_auc"] < 0.6
    assert priv["exact_copies"] == 0


@pytest.mark.slow
def test_independent_columns_score_low_on_pair_trends(parts: tuple[pa.Table, pa.Table]) -> None:
    train, holdout = parts
    independent = evaluate(train, shuffled_columns(train, 1), holdout)["fidelity"]
    model = GaussianCopula(seed=2).fit(train)
    copula = evaluate(train, model.sample_shard(train.num_rows, 0, train.num_rows), holdout)
    assert independent["column_shapes"] > 0.99  # the marginals are exact...
    assert independent["pair_trends"] < 0.85  # ...the dependence is gone
    assert copula["fidelity"]["pair_trends"] > independent["pair_trends"] + 0.05
    assert copula["detection_auc"] < evaluate(train, shuffled_columns(train, 1))["detection_auc"]


@pytest.mark.slow
def test_tstr_approaches_trtr_on_a_known_signal(parts: tuple[pa.Table, pa.Table]) -> None:
    train, holdout = parts
    model = GaussianCopula(seed=5, condition="label").fit(train)
    syn = pa.concat_tables(list(model.sample(2 * train.num_rows)))
    util = evaluate(train, syn, holdout, target="label")["utility"]
    assert util["task"] == "classification"
    assert util["trtr"]["accuracy"] > 0.8  # the signal is there...
    assert util["tstr"]["accuracy"] > util["trtr"]["accuracy"] - 0.05  # ...and survives
    noise = evaluate(train, shuffled_columns(train, 3), holdout, target="label")["utility"]
    assert noise["tstr"]["accuracy"] < util["tstr"]["accuracy"] - 0.15


@pytest.mark.slow
def test_a_numeric_target_is_scored_by_r2(parts: tuple[pa.Table, pa.Table]) -> None:
    train, holdout = parts
    syn = GaussianCopula(seed=1).fit(train).sample_shard(1000, 0, 1000)
    util = evaluate(train, syn, holdout, target="income")["utility"]
    assert util["task"] == "regression" and util["main_metric"] == "r2"
    assert util["trtr"]["r2"] > 0.3 and util["tstr"]["r2"] > 0.0


def test_dcr_share_is_size_adjusted() -> None:
    # 4x more training rows: a fresh sample is closer to train 80% of the time -> 0.5
    d_train = np.r_[np.zeros(80), np.ones(20)]
    d_hold = np.full(100, 0.5)
    assert dcr_share(d_train, d_hold, 400, 100)["dcr_share"] == pytest.approx(0.5)
    assert dcr_share(np.zeros(100), np.ones(100), 400, 100)["dcr_share"] > 0.99


def test_equal_size_share_is_the_mean_over_equal_size_training_samples() -> None:
    rng = np.random.default_rng(0)
    x_train, x_hold = rng.normal(size=(142, 3)), rng.normal(size=(36, 3))
    x_synth = 1.5 * rng.normal(size=(142, 3))
    d_hold, draws = _nearest(x_hold, x_synth), []
    for _ in range(2000):  # the published statistic on one random 36-row training sample
        d = _nearest(x_train[rng.choice(142, 36, replace=False)], x_synth)
        draws.append(np.mean(d < d_hold) + 0.5 * np.mean(d == d_hold))
    exact = equal_size_share(x_train, x_hold, x_synth)
    assert exact == pytest.approx(np.mean(draws), abs=0.005)
    assert equal_size_share(x_train[:36], x_hold, x_train[:36]) == 1.0  # a copy, equal sizes
    # a copy of a 4x larger training set: the sample drops most copied rows
    assert 0.6 < equal_size_share(x_train, x_hold, x_train) < 0.7


def test_membership_auc_states_its_chance_spread() -> None:
    from synthmill.tabular.privacy import null_auc_sd

    assert null_auc_sd(30) == pytest.approx(0.0754, abs=1e-3)  # iris' holdout
    rng = np.random.default_rng(0)  # a score unrelated to membership, many times
    from sklearn.metrics import roc_auc_score

    labels = np.r_[np.ones(30), np.zeros(30)]
    aucs = [roc_auc_score(labels, rng.random(60)) for _ in range(2000)]
    assert np.std(aucs) == pytest.approx(null_auc_sd(30), rel=0.1)
