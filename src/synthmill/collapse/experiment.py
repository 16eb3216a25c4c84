"""Run recursive-training experiments: families x policies x seeds -> JSON and PNG plots."""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from synthmill.collapse.base import Family
from synthmill.collapse.gaussian import Gaussian
from synthmill.collapse.gmm import GaussianMixture
from synthmill.collapse.kde import KernelDensity
from synthmill.collapse.ngram import NgramLM
from synthmill.collapse.policies import POLICIES, check_policies, run_chain, single_threaded
from synthmill.collapse.regression import Regression
from synthmill.collapse.zipf import ZipfMemorizer
from synthmill.errors import ConfigError

log = logging.getLogger(__name__)

FAMILIES: dict[str, Callable[[int], Family]] = {
    "gaussian": lambda n: Gaussian(n=n),
    "gmm": lambda n: GaussianMixture(n=n),
    "kde": lambda n: KernelDensity(n=n),
    "regression": lambda n: Regression(n=n),
    "zipf": lambda n: ZipfMemorizer(n=n),
    "ngram": lambda n: NgramLM(n=n),
}
# Rows per generation at scale 1: each family runs in well under a minute on 2 cores.
DEFAULT_N = {"gaussian": 100, "gmm": 300, "kde": 300, "regression": 100, "zipf": 2000, "ngram": 800}
ROW_KEYS = ("policy", "seed", "generation")


def make_family(name: str, scale: float = 1.0) -> Family:
    """A family at its default size times `scale` (20 rows at least)."""
    if name not in FAMILIES:
        raise ConfigError(f"unknown family {name!r}; use one of {', '.join(FAMILIES)}")
    return FAMILIES[name](max(int(DEFAULT_N[name] * scale), 20))


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median and quartiles over seeds of every metric, per policy and generation."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["policy"], row["generation"]), []).append(row)
    out = []
    for (policy, gen), group in groups.items():
        entry: dict[str, Any] = {"policy": policy, "generation": gen, "seeds": len(group)}
        for key in group[0]:
            if key in ROW_KEYS:
                continue
            q25, med, q75 = np.percentile([r[key] for r in group], [25, 50, 75])
            entry[key] = {"median": float(med), "q25": float(q25), "q75": float(q75)}
        out.append(entry)
    return out


def run_family(
    family: Family,
    policies: list[str],
    generations: int,
    seeds: int,
    real_fraction: float = 0.2,
    on_chain: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Every chain of one family; seeds are 0..seeds-1, so runs are reproducible."""
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with single_threaded():
        for policy in check_policies(policies):
            for seed in range(seeds):
                rows.extend(run_chain(family, policy, generations, seed, real_fraction))
                if on_chain is not None:
                    on_chain()
    extras = family.extras(seeds)
    seconds = time.perf_counter() - start
    log.info("collapse %s: %d chains in %.1fs", family.name, len(policies) * seeds, seconds)
    return {
        "config": family.config(),
        "seconds": round(seconds, 3),
        "runs": rows,
        "summary": summarize(rows),
        **extras,
    }


def machine() -> dict[str, Any]:
    """The machine and package versions, so results can be compared across runs."""
    versions: dict[str, str | None] = {}
    for pkg in ("synthmill", "numpy", "scipy", "scikit-learn", "matplotlib"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


def run_experiment(
    families: list[str],
    out_dir: str | Path,
    policies: list[str] | None = None,
    generations: int = 5,
    seeds: int = 3,
    scale: float = 1.0,
    real_fraction: float = 0.2,
    plots: bool = True,
    on_chain: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run the lab and write collapse.json (and FAMILY.png plots) into out_dir."""
    if generations < 1 or seeds < 1:
        raise ConfigError("generations and seeds must be at least 1; raise them")
    if not 0.0 <= real_fraction <= 1.0:
        raise ConfigError("real_fraction must be between 0 and 1")
    policies = check_policies(list(policies or POLICIES))
    built = [make_family(name, scale) for name in families]
    results: dict[str, Any] = {
        "machine": machine(),
        "config": {
            "generations": generations,
            "seeds": seeds,
            "policies": policies,
            "scale": scale,
            "real_fraction": real_fraction,
        },
        "families": {},
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for family in built:
        res = run_family(family, policies, generations, seeds, real_fraction, on_chain)
        results["families"][family.name] = res
        if plots:
            from synthmill.collapse.plot import plot_family

            res["plot"] = plot_family(family.name, res, out / f"{family.name}.png")
    (out / "collapse.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    return results
