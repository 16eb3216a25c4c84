"""`--method dp` with its defaults: numeric columns on a public power-of-two grid (no
bounds, no epsilon spent on them), with MST and with AIM, on a small real table (iris,
bundled with scikit-learn, so these never skip); and the grid's arithmetic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from synthmill.tabular.dpgrid import Grid, per_octave, spread_weights
from tests.helpers import Done, cli

COLUMNS = ["petal_length", "sepal_width"]


def small_iris(tmp_path: Path) -> Path:
    """Two measurements and the species of the 150 iris flowers, as a CSV."""
    from sklearn.datasets import load_iris

    bunch = load_iris()
    rows = ["petal_length,sepal_width,species"]
    for (_, width, length, _), kind in zip(bunch.data, bunch.target, strict=True):
        rows.append(f"{length},{width},{bunch.target_names[kind]}")
    path = tmp_path / "iris.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def synthesize(tmp_path: Path, *extra: str) -> tuple[Done, dict[str, Any], str]:
    src = small_iris(tmp_path)
    ran = cli(
        "tabular", "synthesize", str(src), "-o", "out", "--method", "dp", "--target", "species",
        "--rows", "200", "--seed", "3", *extra, cwd=tmp_path,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    report = json.loads((tmp_path / "out" / "evaluation.json").read_text(encoding="utf-8"))
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    return ran, report, card


def check_grid_columns(tmp_path: Path, report: dict[str, Any], placed: bool = True) -> None:
    guarantee = report["privacy_guarantee"]
    assert guarantee["epsilon"] == 1.0 and guarantee["epsilon_for_bounds"] == 0.0
    assert guarantee["epsilon_for_synthesizer"] == 1.0 and guarantee["covered"] is True
    assert guarantee["grid"]["columns"] == COLUMNS
    data = pq.read_table(next((tmp_path / "out" / "data").glob("*.parquet")))
    assert data.num_rows == 200
    real = pacsv.read_csv(tmp_path / "iris.csv")
    for name in COLUMNS:
        lo, hi, how = guarantee["bounds"][name]
        assert "public power-of-two grid" in how
        x = np.asarray(data.column(name).to_numpy(), dtype=float)
        assert np.all((x >= lo) & (x <= hi)), (name, lo, hi)
        if not placed:  # AIM spreads its noise over every grid bin: it may miss the data
            continue
        # the range the DP model found is where the data is (values 1-7), not 2^-10 .. 2^53;
        # the fit's noise is not seeded: a noisy bin may widen it by a few octaves
        assert lo >= -64 and hi <= 64 and lo <= float(np.median(real.column(name))) <= hi
    assert set(data.column("species").to_pylist()) <= set(real.column("species").to_pylist())


@pytest.mark.slow
def test_default_dp_runs_on_a_small_real_table_without_bounds(tmp_path: Path) -> None:
    ran, report, card = synthesize(tmp_path)
    assert "differential privacy: epsilon 1, delta" in ran.stdout and "(MST," in ran.stdout
    check_grid_columns(tmp_path, report)
    assert report["privacy_guarantee"]["mechanism"] == "MST"
    assert "public power-of-two grid" in card and "no epsilon spent on bounds" in card
    assert "| dp_epsilon | 1 |" in card
    assert "| dp_seed | fit unseeded |" in card and "take no seed" in card
    located = report["privacy_guarantee"]["grid"]["located"]
    assert set(located) == set(COLUMNS) and all(v["level"] > 3 for v in located.values())
    assert "| dp_grid | 1 bins/octave |" in card and "run of bins found" in card
    spread = report["evaluation"]["privacy"]["mia_auc_null_sd"]  # 30 holdout rows
    assert spread == pytest.approx(0.075, abs=0.001) and "a chance attacker: +/- 0.08" in card


@pytest.mark.slow
def test_aim_runs_and_states_epsilon(tmp_path: Path) -> None:
    ran, report, card = synthesize(tmp_path, "--dp-mechanism", "aim")
    assert "differential privacy: epsilon 1, delta" in ran.stdout and "(AIM," in ran.stdout
    check_grid_columns(tmp_path, report, placed=False)
    assert report["privacy_guarantee"]["mechanism"] == "AIM"
    data = pq.read_table(next((tmp_path / "out" / "data").glob("*.parquet")))
    params = data.column("_meta").to_pylist()[0]["params"]
    params = json.loads(params) if isinstance(params, str) else params
    assert params["mechanism"] == "AIM" and params["epsilon"] == 1.0
    assert "| dp_epsilon | 1 |" in card


def test_bounds_data_is_stated_as_outside_the_guarantee() -> None:
    from synthmill.tabular.dp import DPSynthesizer

    found = DPSynthesizer(bounds="data")._guarantee(1e-4, 0.1)
    assert found["covered"] is False and "grid" not in found
    assert "numeric min and max (read from the data), NOT covered" in found["public"]


def test_a_column_not_located_is_stated_in_the_guarantee_and_its_range() -> None:
    from synthmill.tabular.dp import DPSynthesizer
    from synthmill.tabular.table import profile

    model = DPSynthesizer()
    model.grid, model.on_grid = Grid(1), ["amount", "age"]
    model.located = {
        "amount": {"z": 2.1, "level": 4.07, "ok": False},
        "age": {"z": 6.3, "level": 4.07, "ok": True},
    }
    found = model._guarantee(1e-4, 0.1)
    assert found["grid"]["located"] == model.located
    assert found["not_located"].startswith("amount: ") and "age" not in found["not_located"]
    import pyarrow as pa

    model.specs = profile(pa.table({"amount": [1.5, 2.5, 3.5] * 5, "age": [20.0, 31, 45] * 5}))
    model.keep = {"amount": None, "age": None}
    model.edges = {"amount": (1e10, 2e10, "grid"), "age": (16.0, 64.0, "grid")}
    described = model.describe()
    assert "NOT located" in described["amount"] and "NOT located" not in described["age"]


def test_grid_bins_depend_only_on_the_value_and_hold_their_draws() -> None:
    grid = Grid(2)
    x = np.array([-1e20, -300.0, -1.5, -1e-9, 0.0, 1e-9, 0.75, 1.0, 1.4, 1.5, 3e5, 1e25, np.nan])
    index = grid.index(x)
    assert np.isnan(index[-1])
    finite = index[:-1]
    assert np.all(np.diff(finite) >= 0)  # the index grows with the value
    assert finite[3] == finite[4] == finite[5] == grid.half  # around zero: one bin
    assert finite[7] != finite[9] and finite[7] == finite[8]  # 2 bins an octave: 1..1.41, 1.41..2
    assert finite[0] == 0 and finite[-1] == grid.size - 1  # beyond the grid: its ends
    lo, hi = grid.edges(finite[1:-1])
    assert np.all((x[1:-2] >= lo) & (x[1:-2] < hi))
    draws = grid.draw(np.repeat(finite[1:-1], 50), np.random.default_rng(0))
    lo, hi = grid.edges(np.repeat(finite[1:-1], 50))
    assert np.all((draws >= lo) & (draws <= hi))


def test_bins_far_from_the_mode_are_moved_to_the_nearest_kept_one() -> None:
    grid = Grid(1)
    at = {lo: int(grid.index(np.array([lo * 1.5]))[0]) for lo in (2, 4, 8, 16, 512)}
    counts = np.zeros(grid.size, dtype=int)
    counts[[at[2], at[4], at[16]]] = [300, 500, 150]  # [8, 16) is empty: a short gap, bridged
    counts[at[512]] = 30  # noise far away, above 1% but 30 widths from the data
    keep = grid.kept(counts)
    assert list(np.flatnonzero(keep)) == [at[2], at[4], at[8], at[16]]
    moved = Grid.nearest(np.array([0, at[2], at[8], at[16] + 1, at[512]]), keep)
    assert list(moved) == [at[2], at[2], at[8], at[16], at[16]]
    # values on both sides of zero: the tiny bins between them are a short way, all kept
    x = np.random.default_rng(1).normal(0.0, 0.05, 5000)
    keep = grid.kept(np.bincount(grid.index(x).astype(int), minlength=grid.size))
    lo, hi = grid.edges(np.flatnonzero(keep)[[0, -1]])
    assert lo[0] < -0.1 and hi[1] > 0.1 and keep[grid.half]


def test_the_run_with_most_draws_is_kept_not_the_largest_bin() -> None:
    # wine's 142 rows at epsilon 1: MST's largest noisy count can be an empty bin far away
    # (2^40); it then holds more draws than any one bin of the data, not than their run
    grid = Grid(1)
    at = {lo: int(grid.index(np.array([lo * 1.5]))[0]) for lo in (2, 4, 8, 2.0**40)}
    counts = np.zeros(grid.size, dtype=int)
    counts[[at[2], at[4], at[8], at[2.0**40]]] = [1000, 1100, 500, 1400]
    keep = grid.kept(counts)
    assert list(np.flatnonzero(keep)) == [at[2], at[4], at[8]]
    assert Grid.nearest(np.array([at[2.0**40]]), keep)[0] == at[8]


def test_the_noisy_counts_pick_the_data_and_both_sides_of_zero_stay() -> None:
    grid = Grid(1)
    at = {v: int(grid.index(np.array([v]))[0]) for v in (3.0, 6.0, 12.0, 2.0**40 * 1.5)}
    counts = np.zeros(grid.size)
    counts[[at[3.0], at[6.0], at[12.0], at[2.0**40 * 1.5]]] = [500, 600, 400, 2500]
    noisy = np.zeros(grid.size)  # MST's one-way counts: the far bin's is noise
    noisy[[at[3.0], at[6.0], at[12.0], at[2.0**40 * 1.5]]] = [45.0, 60.0, 38.0, 55.0]
    assert list(np.flatnonzero(grid.kept(counts, noisy))) == [at[3.0], at[6.0], at[12.0]]
    # a standardized column: draws on both sides, few near zero; one span, not one side
    x = np.array([-0.05, 0.01, 0.04])
    side = grid.index(x).astype(int)
    counts = np.zeros(grid.size)
    counts[side] = [1800, 500, 600]
    keep = grid.kept(counts)
    assert keep[side].all() and keep[grid.half]


def test_merged_draws_go_where_the_noisy_counts_are() -> None:
    sigma, y = 20.0, np.zeros(10)
    y[[2, 3]] = [45.0, 30.0]  # the data's bins, one above 2 sigma
    assert list(np.flatnonzero(spread_weights(y, sigma, np.arange(10)))) == [2]
    y[2] = 35.0  # both under 2 sigma (a table of ~100 rows): the level drops to 1 sigma
    assert list(np.flatnonzero(spread_weights(y, sigma, np.arange(10)))) == [2, 3]
    assert spread_weights(-np.ones(10), sigma, np.arange(10)).sum() == 0.0


def test_resolution_grows_with_rows_and_budget_never_with_the_data() -> None:
    assert per_octave(150, 5, 1.0, 1e-4) == 1
    assert per_octave(100_000, 20, 1.0, 1e-7) == 8
    assert per_octave(1000, 20, 1.0, 1e-5) < per_octave(1000, 20, 8.0, 1e-5)


def test_the_grid_top_holds_integers_a_float_represents_exactly() -> None:
    """At a tiny epsilon noise can keep the grid's top bin; a value drawn there and rounded
    to an integer column must still convert to float64 (Arrow refuses |x| > 2^53)."""
    import pyarrow as pa

    grid = Grid(per_octave=1)
    top = np.array([0, grid.size - 1] * 500, dtype=float)
    x = grid.draw(top, np.random.default_rng(0))
    ints = pa.array(np.round(x).astype(np.int64))
    assert np.abs(ints.cast(pa.float64()).to_numpy()).max() <= 2.0**53
    assert grid.index(np.array([1e30, -1e30])).tolist() == [grid.size - 1, 0]


def wine_like_measurement(grid: Grid) -> tuple[Any, Any, np.ndarray]:
    """MST's one-way measurement of a grid column on a ~150-row table at epsilon 1 (sigma
    20): the data in three neighbouring bins at 2.5-3 sigma each, and an empty bin of
    negative values whose noise (3.5 sigma) beats every data bin."""
    from mbi import Dataset, Domain, LinearMeasurement

    data_bins = [int(grid.index(np.array([v]))[0]) for v in (1.5, 3.0, 6.0)]
    far = int(grid.index(np.array([-3000.0]))[0])
    y = np.zeros(grid.size)
    y[data_bins] = [50.0, 60.0, 50.0]
    y[far] = 70.0
    codes = np.repeat(data_bins, [45, 55, 40])
    data = Dataset(pd.DataFrame({"col0": codes}), Domain(["col0"], [grid.size]))
    return data, LinearMeasurement(y, ("col0",), 20.0), np.array(data_bins)


def test_the_support_is_the_data_run_not_the_largest_noisy_bin() -> None:
    """Old rule: bins over 3.8 sigma, else the largest noisy count alone (here the empty
    negative bin), so every draw of the merged data went far away."""
    from synthmill.tabular.dpgrid import grid_mst

    grid = Grid(1)
    data, measured, data_bins = wine_like_measurement(grid)
    model = grid_mst(1.0, 1e-4, {"col0": grid})
    small, _, undo = model.compress_domain(data, [measured])
    start, stop, z, level = model.windows["col0"]
    assert (start, stop) == (data_bins[0], data_bins[-1] + 1)
    assert z == pytest.approx(160.0 / (20.0 * np.sqrt(3))) and z >= level
    assert small.domain.shape == (4,)  # the data's three bins and the merged rest
    # every row drawn from the merged rest lands next to the data's run, never at -3000
    from mbi import Dataset, Domain

    merged = Dataset(pd.DataFrame({"col0": [3] * 400}), Domain(["col0"], [4]))
    back = undo(merged).df["col0"].to_numpy()
    lo, hi = grid.edges(back)
    assert lo.min() >= 0.5 and hi.max() <= 16.0  # an octave beyond the run at most


def test_a_run_below_the_noise_level_is_stated_as_not_located() -> None:
    from synthmill.tabular.dpgrid import best_window, located_level

    y = np.zeros(127)
    y[[70, 71]] = [30.0, 25.0]  # 55 rows at sigma 60 (epsilon ~0.3 on ~150 rows)
    _, z = best_window(y, 60.0, 8)
    assert z < located_level(127, 8)
    y[[70, 71]] = [90.0, 80.0]  # the same table at sigma 20: found
    runs, z = best_window(y, 20.0, 8)
    assert runs == [(70, 72)] and z > located_level(127, 8)


def test_a_standardized_column_keeps_both_sides_of_zero() -> None:
    """diabetes' columns (values +-0.1): each side's run alone is near the noise level,
    the tiny-value bins between them are nearly empty; scored alone, one side won and a
    column came out all negative or all positive."""
    from synthmill.tabular.dpgrid import best_window

    grid = Grid(1)
    neg = [int(grid.index(np.array([-v]))[0]) for v in (0.08, 0.04, 0.02)]
    pos = [int(grid.index(np.array([v]))[0]) for v in (0.02, 0.04, 0.08)]
    y = np.zeros(grid.size)
    y[neg] = [40.0, 30.0, 25.0]  # one side's run: z = 95 / (20 sqrt 3) = 2.7
    y[pos] = [25.0, 30.0, 40.0]
    y[grid.half - 20] = 45.0  # an empty bin's noise beats either side's best bin
    runs, z = best_window(y, 20.0, 8 * grid.per_octave, grid.half)
    assert sorted(runs) == [(min(neg), max(neg) + 1), (min(pos), max(pos) + 1)]
    assert z == pytest.approx(190.0 / (20.0 * np.sqrt(6)))
    # an all-positive column keeps one run: its mirror holds nothing
    y[neg] = 0.0
    runs, _ = best_window(y, 20.0, 8 * grid.per_octave, grid.half)
    assert runs == [(min(pos), max(pos) + 1)]
