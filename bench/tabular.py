"""Tabular synthesis: speed, fidelity, detection, utility and privacy of each method.

    .venv/bin/python bench/tabular.py                         # writes bench/results/tabular.json
    .venv/bin/python bench/tabular.py --sdv-python /work/sdvenv/bin/python
    .venv/bin/python bench/tabular.py --methods dp,argn       # adds them to the same file

Every method runs on the same 3 seeds (`--seeds`; a seed picks the holdout split and
seeds the method): `copula`, `dp` (smartnoise-synth MST at epsilon 1, default delta, its
defaults: numeric columns on a public power-of-two grid, no bounds, all of epsilon to MST)
and `argn` (mostlyai-engine TabularARGN, default epochs with early stopping). dp and argn
take minutes on 2 cores: run them per dataset (`--datasets`), each run merges into the
file. Each method's entry holds its runs, their mean and, over 2 or more seeds, the
spread (min, max, standard deviation) of the privacy numbers, so a mean near a goal can
be told from noise. An error of a method is recorded, not raised.
`--dp-variants` picks which dp runs (default: all three).
`dp_bounds_given` (germancredit) is MST with round public bounds (a term up to 6 years,
amounts up to 20,000 DM, ages 18 to 100): all of epsilon goes to the synthesizer.
`dp_bounds_from_data` reads the numeric bounds from the training rows, which the
guarantee then does not cover (everything else is under epsilon 1).
With --methods, the other methods' results already in --out are kept.

Datasets: shared/data/germancredit.csv and scikit-learn's bundled iris, wine,
breast_cancer, digits (classification) and diabetes (regression). For each dataset and
seed: a stratified 20% holdout, fit on the rest, sample as many rows as trained on,
evaluate against training rows and holdout (synthmill.tabular.evaluation). The speed
case is a 100k x 20 mixed table (fit, then sampling 100k rows in 10k shards).
With --sdv-python (a throwaway venv with `sdv`; never a synthmill dependency, made
outside the repo: `python3.11 -m venv /work/sdvenv && /work/sdvenv/bin/pip install
sdv==2.0.0`), SDV's GaussianCopulaSynthesizer runs on the same splits in a
subprocess and its output is scored by the same evaluator, so the two are compared in
one run, as ratios (the first seed, and the mean over the seeds run; `sdv_over_copula`
names them); on the datasets each side's time is the fastest of REPEAT runs of the same
split and seed (a 40 ms fit on 2 shared cores moves 2x with the load), the speed case is
one run. A table of ours beside SDV ends the output.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._machine import machine
from synthmill.errors import DataError
from synthmill.tabular import run
from synthmill.tabular.copula import GaussianCopula
from synthmill.tabular.evaluation import evaluate, headline, split_holdout
from synthmill.tabular.table import read_table

ROOT = Path(__file__).resolve().parents[1]
GERMAN = ROOT.parent / "shared" / "data" / "germancredit.csv"
SEEDS = (0, 1, 2)
REPEAT = 3  # copula and SDV on a dataset split: the fastest of 3 runs each (load spikes)
GERMAN_BOUNDS = {
    "duration_in_month": (0.0, 72.0),
    "credit_amount": (0.0, 20000.0),
    "age_in_years": (18.0, 100.0),
}
SDV_SCRIPT = """
import sys, time, pandas as pd
from sdv.metadata import Metadata
from sdv.single_table import GaussianCopulaSynthesizer
train = pd.read_csv(sys.argv[1])
meta = Metadata.detect_from_dataframes({"train": train})
best = None
for i in range(int(sys.argv[4])):  # the fastest of the repeats, as for ours
    start = time.perf_counter()
    model = GaussianCopulaSynthesizer(meta)
    model.fit({"train": train})
    fitted = time.perf_counter()
    out = model.sample(int(sys.argv[3]))
    took = (fitted - start, time.perf_counter() - fitted)
    best = took if best is None or sum(took) < sum(best) else best
    if i == 0:
        (out["train"] if isinstance(out, dict) else out).to_csv(sys.argv[2], index=False)
print(*best)
"""


def sklearn_table(name: str) -> tuple[pa.Table, str]:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    columns = {
        str(f).replace(" ", "_"): bunch.data[:, i] for i, f in enumerate(bunch.feature_names)
    }
    if name == "diabetes":
        columns["target"] = bunch.target.astype(float)
    else:
        columns["target"] = np.asarray(bunch.target_names)[bunch.target].astype(str)
    table = pa.table(columns)
    if name == "digits":  # pixel intensities are integers 0..16
        table = pa.table(
            {
                c: table.column(c).cast(pa.int64()) if c != "target" else table.column(c)
                for c in table.column_names
            }
        )
    return table, "target"


def datasets() -> dict[str, tuple[pa.Table, str]]:
    found = {
        name: sklearn_table(name)
        for name in ("iris", "wine", "breast_cancer", "diabetes", "digits")
    }
    if GERMAN.exists():
        found = {"germancredit": (read_table(GERMAN), "creditability"), **found}
    return found


def run_copula(
    train: pa.Table, target: str, seed: int, repeat: int = 1
) -> tuple[pa.Table, float, float]:
    """The sample and the fit and sample seconds of the fastest of `repeat` runs (the same
    seed gives the same rows each time)."""
    best: tuple[float, float] | None = None
    for _ in range(repeat):
        start = time.perf_counter()
        model = GaussianCopula(seed=seed, condition=target).fit(train)
        fitted = time.perf_counter()
        syn = pa.concat_tables(list(model.sample(train.num_rows)))
        took = (fitted - start, time.perf_counter() - fitted)
        best = took if best is None or sum(took) < sum(best) else best
    assert best is not None
    return syn, best[0], best[1]


def run_method(
    method: str, train: pa.Table, target: str, seed: int, options: run.Options
) -> tuple[pa.Table, float, float, dict[str, Any]]:
    start = time.perf_counter()
    model = run.make(method, seed, target, options).fit(train)
    fitted = time.perf_counter()
    syn = pa.concat_tables(list(model.sample(train.num_rows)))
    guarantee = run.guarantee(model) or {}
    extra = {k: v for k, v in guarantee.items() if k in ("epsilon", "delta")}
    located = guarantee.get("grid", {}).get("located", {})
    if located:  # dp's grid columns whose run of bins did not stand out of MST's noise
        extra["grid_not_located"] = sorted(k for k, v in located.items() if not v["ok"])
    return syn, fitted - start, time.perf_counter() - fitted, extra


def run_sdv(
    python: str, train: pa.Table, seed: int, repeat: int = 1
) -> tuple[pa.Table, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "train.csv", Path(tmp) / "syn.csv"
        pacsv.write_csv(train, src)
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        done = subprocess.run(
            [python, "-c", SDV_SCRIPT, str(src), str(out), str(train.num_rows), str(repeat)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            timeout=1800,
        )
        fit_s, sample_s = (float(v) for v in done.stdout.split()[-2:])
        return read_table(out), fit_s, sample_s


def scored(
    train: pa.Table,
    syn: pa.Table,
    hold: pa.Table,
    target: str,
    seed: int,
    fit_s: float,
    sample_s: float,
) -> dict[str, Any]:
    ev = evaluate(train, syn, hold, target, seed)
    return {"fit_seconds": fit_s, "sample_seconds": sample_s, **headline(ev)}


def mean_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    runs = [r for r in runs if "error" not in r] or runs
    if "error" in runs[0]:
        return {"error": runs[0]["error"]}
    keys = [k for k, v in runs[0].items() if isinstance(v, int | float) and k != "seed"]
    return {k: round(statistics.fmean(r[k] for r in runs if r.get(k) is not None), 4) for k in keys}


SPREAD = ("dcr_share", "dcr_share_equal_size", "mia_auc", "fidelity", "detection_auc")


def spread_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-seed values of the privacy (and fidelity) numbers, their min, max and sample
    standard deviation: the seed-to-seed spread a 3-seed mean carries."""
    found: dict[str, Any] = {}
    for key in SPREAD:
        values = [float(r[key]) for r in runs if isinstance(r.get(key), int | float)]
        if len(values) < 2:
            continue
        found[key] = {
            "per_seed": [round(v, 4) for v in values],
            "min": round(min(values), 4),
            "max": round(max(values), 4),
            "sd": round(statistics.stdev(values), 4),
        }
    return found


def method_entry(runs: list[dict[str, Any]], seeds: list[int]) -> dict[str, Any]:
    found: dict[str, Any] = {"seeds": seeds, "mean": mean_of(runs), "runs": runs}
    errors = [r["error"] for r in runs if "error" in r]
    if errors:
        found["errors"] = errors
    spread = spread_of(runs)
    if spread:
        found["spread"] = spread
    return found


DP_VARIANTS = ("dp", "dp_bounds_given", "dp_bounds_from_data")


def bench_slow_methods(
    name: str,
    table: pa.Table,
    target: str,
    wanted: list[str],
    dp_variants: tuple[str, ...],
    seeds: tuple[int, ...] = SEEDS,
) -> dict[str, list[dict[str, Any]]]:
    """dp and argn on the same splits as copula."""
    found: dict[str, list[dict[str, Any]]] = {}
    for seed in seeds:
        for label, runs in bench_slow_seed(name, table, target, wanted, dp_variants, seed).items():
            found.setdefault(label, []).extend(runs)
    return found


def bench_slow_seed(
    name: str,
    table: pa.Table,
    target: str,
    wanted: list[str],
    dp_variants: tuple[str, ...],
    seed: int,
) -> dict[str, list[dict[str, Any]]]:
    train, hold = split_holdout(table, 0.2, seed, target)
    variants: list[tuple[str, str, run.Options]] = []
    if "dp" in wanted:
        variants.append(("dp", "dp", run.Options(epsilon=1.0)))
        if name == "germancredit":
            variants.append(("dp_bounds_given", "dp", run.Options(bounds=GERMAN_BOUNDS)))
        variants.append(("dp_bounds_from_data", "dp", run.Options(bounds="data")))
        variants = [v for v in variants if v[0] in dp_variants]
    if "argn" in wanted:
        variants.append(("argn", "argn", run.Options()))
    found: dict[str, list[dict[str, Any]]] = {}
    for label, method, options in variants:
        try:
            syn, fit_s, sample_s, extra = run_method(method, train, target, seed, options)
        except DataError as exc:  # a method's one-line error is a result too
            found[label] = [{"seed": seed, "error": str(exc)}]
        else:
            result = scored(train, syn, hold, target, seed, fit_s, sample_s)
            found[label] = [{"seed": seed, **result, **extra}]
        print(name, seed, label, json.dumps(found[label][0]), flush=True)
    return found


def merged(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """A method's fresh runs beside its earlier runs of other seeds (a slow method can be
    run a seed at a time); runs without a recorded seed (older files) are dropped."""
    fresh = {r["seed"] for r in new["runs"]}
    kept = [r for r in (old or {}).get("runs", []) if "seed" in r and r["seed"] not in fresh]
    runs = sorted(kept + new["runs"], key=lambda r: int(r["seed"]))
    return method_entry(runs, [int(r["seed"]) for r in runs])


def stamp(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [{**r, "measured_at": at} for r in runs]


def bench_dataset(
    name: str,
    table: pa.Table,
    target: str,
    sdv: str | None,
    wanted: list[str],
    dp_variants: tuple[str, ...] = DP_VARIANTS,
    seeds: tuple[int, ...] = SEEDS,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "rows": table.num_rows,
        "columns": table.num_columns,
        "target": target,
    }
    methods: dict[str, list[dict[str, Any]]] = {}
    for seed in seeds if "copula" in wanted else ():
        train, hold = split_holdout(table, 0.2, seed, target)
        syn, fit_s, sample_s = run_copula(train, target, seed, REPEAT)
        methods.setdefault("copula", []).append(
            {"seed": seed, **scored(train, syn, hold, target, seed, fit_s, sample_s)}
        )
        print(name, seed, "copula", json.dumps(methods["copula"][-1]), flush=True)
        if sdv:  # the peer on the same split, in the same run
            syn, fit_s, sample_s = run_sdv(sdv, train, seed, REPEAT)
            methods.setdefault("sdv_gaussian_copula", []).append(
                {"seed": seed, **scored(train, syn, hold, target, seed, fit_s, sample_s)}
            )
            print(name, seed, "sdv", json.dumps(methods["sdv_gaussian_copula"][-1]), flush=True)
    methods |= bench_slow_methods(name, table, target, wanted, dp_variants, seeds)
    result["methods"] = {m: method_entry(stamp(runs), list(seeds)) for m, runs in methods.items()}
    train, hold = split_holdout(table, 0.2, SEEDS[0], target)
    floor = headline(evaluate(train, hold, seed=SEEDS[0]))  # real vs real: the noise floor
    result["real_holdout_as_synthetic"] = {
        k: floor[k] for k in ("fidelity", "column_shapes", "pair_trends", "detection_auc")
    }
    if "sdv_gaussian_copula" in methods and "copula" in methods:
        ours, theirs = methods["copula"], methods["sdv_gaussian_copula"]

        def seconds(runs: list[dict[str, Any]]) -> float:
            return statistics.fmean(r["fit_seconds"] + r["sample_seconds"] for r in runs)

        result["sdv_over_copula"] = {  # the first seed, and the mean over the seeds run
            "seeds": list(seeds),
            "fit_plus_sample_seconds": seconds(theirs[:1]) / seconds(ours[:1]),
            "fit_plus_sample_seconds_seed_mean": seconds(theirs) / seconds(ours),
            "fidelity_difference": theirs[0]["fidelity"] - ours[0]["fidelity"],
            "fidelity_difference_seed_mean": statistics.fmean(r["fidelity"] for r in theirs)
            - statistics.fmean(r["fidelity"] for r in ours),
        }
    return result


def summary(found: dict[str, Any]) -> None:
    """Ours beside the peer (SDV) per dataset and method, as 3-seed means where run."""
    print(
        "dataset | method | seeds | fidelity | detection | TSTR/TRTR | "
        "DCR share [min-max] | equal-size [min-max] | MIA [min-max]"
    )
    for name, entry in found.items():
        for method, res in entry["methods"].items():
            m = res["mean"]
            if "error" in m:
                print(f"{name} | {method} | error: {m['error']}")
                continue
            spread = res.get("spread", {})

            def span(key: str, m: dict[str, Any] = m, spread: dict[str, Any] = spread) -> str:
                low_high = spread.get(key)
                mean = f"{m.get(key, float('nan')):.2f}"
                return f"{mean} [{low_high['min']:.2f}-{low_high['max']:.2f}]" if low_high else mean

            print(
                f"{name} | {method} | {len(res['runs'])} | {m['fidelity']:.3f} | "
                f"{m['detection_auc']:.2f} | "
                f"{m.get('tstr', float('nan')):.3f}/{m.get('trtr', float('nan')):.3f} | "
                f"{span('dcr_share')} | {span('dcr_share_equal_size')} | {span('mia_auc')}"
            )
        ratio = entry.get("sdv_over_copula")
        if ratio:
            print(
                f"{name} | SDV s / ours: {ratio['fit_plus_sample_seconds']:.1f}x seed "
                f"{ratio['seeds'][0]}, {ratio['fit_plus_sample_seconds_seed_mean']:.1f}x mean of "
                f"{len(ratio['seeds'])} seeds (goal >= 5x)"
            )


def speed_table(n: int = 100_000, seed: int = 0) -> pa.Table:
    """20 columns: 10 numeric (skewed, 10% missing in one), 6 categorical, 3 discrete, a date."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 4))
    cols: dict[str, Any] = {}
    for i in range(10):
        x = base[:, i % 4] + 0.5 * rng.normal(size=n)
        cols[f"num{i}"] = np.exp(x) if i % 3 == 0 else np.round(x * 100, 2)
    cols["num9"] = pa.array(np.where(rng.random(n) < 0.1, np.nan, cols["num9"]), from_pandas=True)
    for i in range(6):
        cols[f"cat{i}"] = np.array(list("abcdefghij"))[
            np.clip((base[:, i % 4] * 2 + 5).astype(int), 0, 9)
        ].tolist()
    for i in range(3):
        cols[f"disc{i}"] = rng.poisson(3, n)
    day = datetime(2015, 1, 1)
    cols["date"] = pa.array(
        [day + timedelta(days=int(d)) for d in rng.integers(0, 3000, n)], type=pa.timestamp("s")
    )
    return pa.table(cols)


def bench_speed(sdv: str | None) -> dict[str, Any]:
    table = speed_table()
    found = {"copula": copula_speed(table)}
    if sdv:
        _, fit_s, sample_s = run_sdv(sdv, table, 0)
        found["sdv_gaussian_copula"] = {"fit_seconds": fit_s, "sample_seconds": sample_s}
        ours = found["copula"]["fit_seconds"] + found["copula"]["sample_seconds"]
        found["sdv_over_copula_seconds"] = (fit_s + sample_s) / ours
    return found


def copula_speed(table: pa.Table) -> dict[str, Any]:
    start, cpu = time.perf_counter(), time.process_time()
    model = GaussianCopula(seed=0).fit(table)
    fit_s, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    rows = sum(t.num_rows for t in model.sample(table.num_rows, shard_size=10_000))
    sample_s, sample_cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "rows": table.num_rows,
        "columns": table.num_columns,
        "fit_seconds": round(fit_s, 3),
        "sample_seconds": round(sample_s, 3),
        "fit_cpu_seconds": round(fit_cpu, 3),
        "sample_cpu_seconds": round(sample_cpu, 3),
        "sampled_rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdv-python", help="Python of a throwaway venv with sdv installed.")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "tabular.json"))
    parser.add_argument("--methods", default="copula", help="copula,dp,argn (comma-separated)")
    parser.add_argument("--datasets", default="", help="only these (comma-separated)")
    parser.add_argument("--dp-variants", default=",".join(DP_VARIANTS), help="which dp runs")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)), help="split/method seeds")
    args = parser.parse_args()
    seeds = tuple(int(s) for s in args.seeds.split(",") if s.strip())
    wanted = [m.strip() for m in args.methods.split(",") if m.strip()]
    out = Path(args.out)
    previous = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    report: dict[str, Any] = {
        "machine": machine(),
        "scipy": metadata.version("scipy"),
        "seeds": list(seeds),
    }
    for package in ("smartnoise-synth", "mostlyai-engine", "torch"):
        try:
            report[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    # keep what earlier runs measured for the methods not run now
    report = {**previous, **report, "runs": previous.get("runs", [])}
    report["runs"].append({"methods": wanted, "command": sys.argv[1:], "machine": machine()})
    if args.sdv_python:
        version = subprocess.run(
            [args.sdv_python, "-c", "import sdv; print(sdv.__version__)"],
            capture_output=True,
            text=True,
            check=True,
        )
        report["sdv"] = version.stdout.strip()
    only = {d for d in args.datasets.split(",") if d}
    with threadpool_limits(1):
        if "copula" in wanted:
            report["speed_100k_x_20"] = bench_speed(args.sdv_python)
            print("speed", report["speed_100k_x_20"], flush=True)
        found = report.setdefault("datasets", {})
        for name, (t, target) in datasets().items():
            if only and name not in only:
                continue
            sdv = args.sdv_python if "copula" in wanted else None
            variants = tuple(v for v in args.dp_variants.split(",") if v)
            fresh = bench_dataset(name, t, target, sdv, wanted, variants, seeds)
            if name in found:
                if "copula" in wanted and not args.sdv_python:  # its ratio would be stale
                    found[name].pop("sdv_over_copula", None)
                    found[name]["methods"].pop("sdv_gaussian_copula", None)
                for method, new in fresh.pop("methods").items():
                    found[name]["methods"][method] = merged(found[name]["methods"].get(method), new)
                found[name] |= fresh
            else:
                found[name] = fresh
            out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    summary({k: v for k, v in report["datasets"].items() if not only or k in only})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
