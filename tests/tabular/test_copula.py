"""The copula keeps types, bounds, rounding, missingness and dependence; makes IDs anew."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats

from synthmill.tabular.copula import GaussianCopula
from synthmill.tabular.features import numbers
from synthmill.tabular.marginals import choose, ks_distance
from synthmill.tabular.table import profile
from tests.tabular.conftest import mixed_table


def sample(table: pa.Table, rows: int, seed: int = 1, **kw: object) -> pa.Table:
    model = GaussianCopula(seed=seed, **kw).fit(table)  # type: ignore[arg-type]
    return pa.concat_tables(list(model.sample(rows, shard_size=700)))


def test_types_bounds_rounding_and_kinds(table: pa.Table) -> None:
    kinds = {s.name: s.kind for s in profile(table)}
    assert kinds == {
        "age": "numeric",
        "income": "numeric",
        "score": "numeric",
        "city": "categorical",
        "member": "categorical",
        "joined": "datetime",
        "label": "categorical",
    }
    syn = sample(table, 2000)
    assert syn.schema == table.schema and syn.num_rows == 2000
    age = syn.column("age").to_numpy()
    assert age.min() >= 18 and age.max() <= 90
    income = numbers(syn.column("income"))
    assert np.allclose(income, np.round(income, 2))
    assert income.min() >= pc.min(table.column("income")).as_py()
    seconds = syn.column("joined").cast(pa.int64()).to_numpy()
    assert np.all(seconds % 86_400 == 0)  # dates stay at midnight
    assert set(syn.column("city").to_pylist()) <= {"north", "south", "centre"}


def test_dependence_and_missingness_are_kept(table: pa.Table) -> None:
    syn = sample(table, 3000)
    real_rho = stats.spearmanr(numbers(table.column("age")), numbers(table.column("income")))[0]
    syn_rho = stats.spearmanr(numbers(syn.column("age")), numbers(syn.column("income")))[0]
    assert abs(real_rho - syn_rho) < 0.08
    real_null = table.column("score").null_count / table.num_rows
    assert abs(syn.column("score").null_count / syn.num_rows - real_null) < 0.03

    def gap(t: pa.Table) -> float:  # score is missing for the old: by how many years
        age, missing = numbers(t.column("age")), np.isnan(numbers(t.column("score")))
        return float(age[missing].mean() - age[~missing].mean())

    # a threshold rule is not linear in normal scores, so only part of it survives
    assert gap(syn) > 0.3 * gap(table) > 5
    north = np.array(syn.column("city").to_pylist()) == "north"
    assert (
        numbers(syn.column("income"))[north].mean() > numbers(syn.column("income"))[~north].mean()
    )


def test_shards_are_seeded_and_independent_of_count(table: pa.Table) -> None:
    model = GaussianCopula(seed=3).fit(table)
    first = model.sample_shard(700, 1, 700)
    again = list(model.sample(1400, shard_size=700))[1]
    assert first.equals(again)
    other = GaussianCopula(seed=4).fit(table).sample_shard(700, 1, 700)
    assert not first.equals(other)


def test_id_columns_are_new_unique_values_not_copies() -> None:
    n = 10_000
    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "customer": [f"CU-{i:06d}" for i in rng.permutation(n)],
            "row_id": np.arange(1, n + 1),
            "amount": rng.gamma(2.0, 10.0, n),
        }
    )
    specs = {s.name: s.kind for s in profile(table)}
    assert specs["customer"] == "id" and specs["row_id"] == "id"
    syn = sample(table, 12_000)
    made = syn.column("customer").to_pylist()
    assert len(set(made)) == len(made)  # unique across shards
    assert all(len(v) == len("CU-000000") and v.startswith("CU-") for v in made[:50])
    assert pc.min(syn.column("row_id")).as_py() == n + 1  # new IDs above the real ones


def test_rare_levels_of_a_high_cardinality_column_are_not_copied() -> None:
    rng = np.random.default_rng(1)
    levels = [f"Z{i:04d}" for i in range(800)]
    probs = np.r_[np.full(100, 0.8 / 100), np.full(700, 0.2 / 700)]
    values = rng.choice(levels, 4000, p=probs).tolist()
    table = pa.table({"zip": values, "x": rng.normal(size=4000)})
    spec = profile(table)[0]
    assert spec.kind == "categorical" and "500 most frequent" in spec.notes[0]
    counts = pc.value_counts(table.column("zip")).to_pylist()
    ranked = sorted(counts, key=lambda c: -c["counts"])
    rarest = {c["values"] for c in ranked[500:]}
    made = set(sample(table, 4000).column("zip").to_pylist())
    assert not made & rarest
    assert all(v[0] == "Z" and v[1:].isdigit() and len(v) == 5 for v in made)


def test_free_text_is_drawn_from_common_words() -> None:
    rng = np.random.default_rng(2)
    words = ["loan", "late", "payment", "customer", "called", "about", "the", "rate"]
    texts = [" ".join(rng.choice(words, rng.integers(4, 12))) + f" ref{i}" for i in range(300)]
    table = pa.table({"note": texts, "y": rng.normal(size=300)})
    assert profile(table)[0].kind == "text"
    made = sample(table, 300).column("note").to_pylist()
    assert not set(made) & set(texts)
    assert all(set(m.split()) <= set(words) for m in made)  # rare tokens (ref17) never leak


def test_marginal_choice_fits_unseen_data() -> None:
    rng = np.random.default_rng(5)
    for draw in (lambda k: rng.normal(3, 2, k), lambda k: rng.gamma(2, 3, k), rng.random):
        marginal, scores = choose(draw(4000), rng)
        assert ks_distance(marginal, draw(4000)) < 0.05, marginal.describe()
        assert "empirical" in scores
    constant, _ = choose(np.full(50, 7.0), rng)
    assert np.all(constant.ppf(np.array([0.1, 0.9])) == 7.0)


def test_conditioning_on_a_target_keeps_class_shares() -> None:
    table = mixed_table(1200, seed=3)
    syn = sample(table, 3000, condition="label")
    real_yes = np.mean(np.array(table.column("label").to_pylist()) == "yes")
    assert abs(np.mean(np.array(syn.column("label").to_pylist()) == "yes") - real_yes) < 0.04


def test_a_category_that_goes_with_a_number_non_monotonically_keeps_its_means() -> None:
    rng = np.random.default_rng(6)
    level = rng.choice(["a", "b", "c"], 3000, p=[0.5, 0.3, 0.2])
    x = np.select([level == "b", level == "c"], [2.0, -2.0], 0.0) + rng.normal(size=3000)
    table = pa.table({"level": level.tolist(), "x": x, "y": x + rng.normal(size=3000)})
    syn = sample(table, 4000)
    got = np.array(syn.column("level").to_pylist())
    means = {k: numbers(syn.column("x"))[got == k].mean() for k in "abc"}
    assert means["b"] > means["a"] + 1.0 > means["c"] + 2.0  # frequency order a, b, c would not


def test_a_numeric_target_is_conditioned_on_through_quantile_bins() -> None:
    rng = np.random.default_rng(8)
    x = rng.normal(size=2000)
    table = pa.table({"x": x, "y": np.round(x**2 + 0.1 * rng.normal(size=2000), 3)})
    model = GaussianCopula(seed=1, condition="y").fit(table)
    assert len(model.cores) == 8 and "one copula per class or bin" in model.describe()["y"]
    syn = model.sample_shard(4000, 0, 4000)
    sx, sy = numbers(syn.column("x")), numbers(syn.column("y"))
    # y = x^2 is not monotone: one copula cannot keep it, bins of y can
    assert np.corrcoef(np.abs(sx), sy)[0, 1] > 0.8


def test_each_class_is_split_by_the_category_that_tells_most_about_it() -> None:
    rng = np.random.default_rng(9)
    n = 3000
    level = rng.choice(["a", "b", "d"], n)
    yes = rng.random(n) < np.select([level == "a", level == "b"], [0.8, 0.5], 0.2)
    noise = rng.choice(["p", "q"], n)  # independent of the target: never the splitter
    spread = np.where(level == "a", 0.3, 3.0)  # a's spread differs from b's: not a mean shift
    x = np.where(yes, 1.0, -1.0) + spread * rng.normal(size=n)
    label = np.where(yes, "yes", "no")
    table = pa.table({"level": level.tolist(), "noise": noise.tolist(), "x": x, "y": label})
    model = GaussianCopula(seed=2, condition="y").fit(table)
    assert model.split_by == "level" and "split by level" in model.describe()["y"]
    assert len(model.cores) == 6  # 2 classes x 3 levels
    syn = model.sample_shard(6000, 0, 6000)
    got_level = np.array(syn.column("level").to_pylist())
    got_yes = np.array(syn.column("y").to_pylist()) == "yes"
    sx = numbers(syn.column("x"))
    for lvl, want in (("a", 0.8), ("b", 0.5), ("d", 0.2)):
        assert abs(got_yes[got_level == lvl].mean() - want) < 0.05, lvl
    # one copula per class gives every level about the same spread of x; the split keeps it
    assert sx[got_yes & (got_level == "a")].std() < 0.6
    assert sx[got_yes & (got_level == "b")].std() > 2.0


def test_sorted_quantiles_are_numpys_bit_for_bit() -> None:
    from synthmill.tabular.marginals import sorted_quantiles

    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 60, 1001, 1500):
        x = np.sort(np.round(rng.normal(size=n), 1))  # ties, as in few-valued columns
        for probs in (np.linspace(0.0, 1.0, min(1001, max(n, 2))), np.array([0.75, 0.25])):
            assert np.array_equal(sorted_quantiles(x, probs), np.quantile(x, probs))
