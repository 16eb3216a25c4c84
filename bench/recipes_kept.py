"""Kept share of the literature recipes with the embedded model (SmolLM2-135M).

    .venv/bin/python bench/recipes_kept.py                # 30 input rows per recipe
    .venv/bin/python bench/recipes_kept.py --rows 6 --recipes rephrase multiturn

Each recipe runs its own example YAML (n_threads: 1, cache off) on `--rows` rows cycled
from the example's input file (`n` for the sources sample and magpie); the result says how
many output rows were kept, how many rejected and why, and the wall and CPU seconds. Each
recipe's result is written to bench/results/recipes_kept.json as soon as it is measured,
with the machine it ran on (the load average says how shared it was).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._machine import machine
from synthmill import Pipeline
from synthmill.recipes import LITERATURE_RECIPES

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
RECIPES = LITERATURE_RECIPES


def cycled(source: Path, rows: int, out: Path) -> Path:
    lines = [line for line in source.read_text().splitlines() if line.strip()]
    out.write_text("".join(lines[i % len(lines)] + "\n" for i in range(rows)))
    return out


def source(config: dict[str, Any], rows: int, work: Path) -> tuple[list[str], int]:
    """Overrides giving the example `rows` input rows: sample's n, or a cycled input file;
    a folder of files (oss_instruct) is used as it is."""
    first = config["stages"][0]
    if first["use"] in ("sample", "magpie"):  # sources that make `n` rows
        return [f"stages.0.n={rows}"], rows
    path = REPO / first["path"]
    if path.is_dir():  # a folder of files (oss_instruct, n per file): files copied in turn
        per = int(config["stages"][1].get("n", 1))
        files = sorted(p for p in path.iterdir() if p.is_file())
        folder = work / f"{config['name']}_src"
        folder.mkdir()
        for i in range(-(-rows // per)):
            shutil.copy(files[i % len(files)], folder / f"{i:03d}_{files[i % len(files)].name}")
        return [f"stages.0.path={folder}"], -(-rows // per)
    return [f"stages.0.path={cycled(path, rows, work / (config['name'] + '.jsonl'))}"], rows


def measure(recipe: str, rows: int, work: Path) -> dict[str, Any]:
    example = REPO / "examples" / f"{recipe}.yaml"
    config = yaml.safe_load(example.read_text())
    given, inputs = source(config, rows, work)
    # allow_empty: a recipe that keeps none of its rows is a result here (kept 0 of N)
    overrides = [f"output.dir={work / recipe}", "cache=false", "allow_empty=true", *given]
    cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF).ru_utime, time.perf_counter()
    result = Pipeline.from_yaml(example, overrides).run()
    wall = time.perf_counter() - wall0
    cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu0
    kept = len(_parquet_rows(result.root))
    reasons = Counter(r["reason"] for r in _rejects(result.root))
    total = kept + sum(reasons.values())
    return {
        "input_rows": inputs,
        "output_rows": total,
        "kept": kept,
        "kept_share": round(kept / total, 3) if total else None,
        "rejected_by_reason": dict(reasons.most_common()),
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
    }


def _parquet_rows(root: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    return [
        r for p in sorted((root / "data").glob("*.parquet")) for r in pq.read_table(p).to_pylist()
    ]


def _rejects(root: Path) -> list[dict[str, Any]]:
    files = sorted((root / "rejects").rglob("*.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=30)
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=RECIPES)
    args = parser.parse_args()
    out = RESULTS / "recipes_kept.json"
    report = {"model": "SmolLM2-135M-Instruct Q4_1, n_threads 1", "machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        for recipe in args.recipes:
            found = measure(recipe, args.rows, Path(tmp))
            print(recipe, json.dumps(found), flush=True)
            # Read again before each write: another run of this script may have added some.
            previous = json.loads(out.read_text())["recipes"] if out.exists() else {}
            previous[recipe] = {**found, "machine": report["machine"]}
            out.write_text(json.dumps({**report, "recipes": previous}, indent=2) + "\n")


if __name__ == "__main__":
    main()
