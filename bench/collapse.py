"""Collapse lab: time per family at default sizes, and where each policy ends up.

    .venv/bin/python bench/collapse.py                # -> bench/results/collapse.json
    .venv/bin/python bench/collapse.py --scale 2      # bigger (not written unless --out)

Every family runs 5 policies x 3 seeds x 5 generations (the `synthmill collapse run`
defaults). Wall and CPU seconds are per family; the final generation's medians over seeds
are kept per policy, with the closed-form expectation where theory gives one.
Also: the three paper reproductions (`synthmill collapse reproduce`, default seeds), and
a long Gaussian accumulate run with sufficient statistics against the pool-copying path
in the same process (their ratio).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from synthmill.collapse.experiment import FAMILIES, machine, make_family, run_family
from synthmill.collapse.gaussian import Gaussian
from synthmill.collapse.policies import POLICIES
from synthmill.collapse.reproduce import PAPERS, reproduce

RESULTS = Path(__file__).resolve().parent / "results" / "collapse.json"


def final(summary: list[dict[str, Any]], generations: int) -> dict[str, dict[str, float]]:
    """policy -> metric -> median at the last generation."""
    return {
        e["policy"]: {k: round(v["median"], 5) for k, v in e.items() if isinstance(v, dict)}
        for e in summary
        if e["generation"] == generations
    }


def bench(scale: float, generations: int, seeds: int) -> dict[str, Any]:
    out: dict[str, Any] = {"machine": machine(), "load_average_at_start": os.getloadavg()}
    out["config"] = {"scale": scale, "generations": generations, "seeds": seeds}
    out["families"] = {}
    for name in FAMILIES:
        family = make_family(name, scale)
        wall, cpu = time.perf_counter(), time.process_time()
        res = run_family(family, list(POLICIES), generations, seeds)
        out["families"][name] = {
            "rows_per_generation": family.n,
            "chains": len(POLICIES) * seeds,
            "wall_seconds": round(time.perf_counter() - wall, 2),
            "cpu_seconds": round(time.process_time() - cpu, 2),
            "final_generation": final(res["summary"], generations),
        }
        print(name, out["families"][name]["wall_seconds"], "s", file=sys.stderr)
    return out


class PoolGaussian(Gaussian):
    """The Gaussian without sufficient statistics: accumulate copies the growing pool."""

    def stats(self, data: Any) -> None:
        return None


def long_run(generations: int, seeds: int) -> dict[str, Any]:
    """Gaussian accumulate, generations x seeds: statistics path vs pool path."""
    out: dict[str, Any] = {"generations": generations, "seeds": seeds}
    for name, family in (("statistics", Gaussian()), ("pool", PoolGaussian())):
        wall = time.perf_counter()
        res = run_family(family, ["accumulate"], generations, seeds)
        final = next(e for e in res["summary"] if e["generation"] == generations)
        out[name] = {
            "wall_seconds": round(time.perf_counter() - wall, 2),
            "final_var_ratio_mean": round(final["var_ratio"]["mean"], 5),
        }
        print("long run", name, out[name]["wall_seconds"], "s", file=sys.stderr)
    out["speedup"] = round(out["pool"]["wall_seconds"] / out["statistics"]["wall_seconds"], 1)
    return out


def reproductions() -> dict[str, Any]:
    out = {}
    for paper in PAPERS:
        wall = time.perf_counter()
        res = reproduce(paper)
        res["rows"] = [r.as_dict() for r in res["rows"]]
        res["wall_seconds"] = round(time.perf_counter() - wall, 2)
        out[paper] = res
        print("reproduce", paper, res["wall_seconds"], "s", res["agrees"], file=sys.stderr)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--generations", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    result = bench(args.scale, args.generations, args.seeds)
    result["reproduce"] = reproductions()
    result["gaussian_accumulate_long"] = long_run(2000, 20)
    default = (args.scale, args.generations, args.seeds) == (1.0, 5, 3)
    path = args.out or (RESULTS if default else None)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
