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
from synthmill.collapse.policies import (
    POLICIES,
    Verification,
    check_policies,
    run_chain,
    single_threaded,
)
from synthmill.collapse.regression import Regression
from synthmill.collapse.zipf import ZipfMemorizer
from synthmill.errors import ConfigError

log = logging.getLogger(__name__)

FAMILIES: dict[str, type[Family]] = {
    "gaussian": Gaussian,
    "gmm": GaussianMixture,
    "kde": KernelDensity,
    "regression": Regression,
    "zipf": ZipfMemorizer,
    "ngram": NgramLM,
}
# Rows per generation at scale 1: each family runs in well under a minute on 2 cores.
DEFAULT_N = {"gaussian": 100, "gmm": 300, "kde": 300, "regression": 100, "zipf": 2000, "ngram": 800}
ROW_KEYS = ("policy", "seed", "generation")


def check_family(name: str) -> type[Family]:
    if name not in FAMILIES:
        raise ConfigError(f"unknown family {name!r}; use one of {', '.join(FAMILIES)}")
    return FAMILIES[name]


def make_family(
    name: str, scale: float = 1.0, n: int | None = None, params: dict[str, Any] | None = None
) -> Family:
    """A family with `n` rows per generation (default: its default size times `scale`)
    and any other constructor parameters; a bad value is a ConfigError, never adjusted."""
    cls = check_family(name)
    if n is None:
        n = round(DEFAULT_N[name] * scale)
    params = dict(params or {})
    if "n" in params:
        raise ConfigError(f"{name}: set the rows per generation with --rows (or scale), not n=")
    return cls(n=n, **params)


def parse_params(pairs: list[str], families: list[str]) -> dict[str, dict[str, Any]]:
    """`[FAMILY.]NAME=VALUE` settings -> family -> {name: value}, typed by the default.

    Without a FAMILY prefix a setting goes to every chosen family that has the parameter
    (and at least one must)."""
    out: dict[str, dict[str, Any]] = {f: {} for f in families}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--param {pair!r}: write NAME=VALUE or FAMILY.NAME=VALUE")
        fam, _, name = key.rpartition(".")
        targets = [fam] if fam else [f for f in families if name in FAMILIES[f].params()]
        if fam and fam not in out:
            raise ConfigError(f"--param {pair!r}: family {fam!r} is not being run")
        if not targets:
            known = sorted({p for f in families for p in FAMILIES[f].params()} - {"n"})
            raise ConfigError(
                f"--param {pair!r}: no chosen family has {name!r}; known: {', '.join(known)}"
            )
        for f in targets:
            out[f][name] = _convert(f, name, raw)
    return out


def _convert(family: str, name: str, raw: str) -> Any:
    defaults = FAMILIES[family].params()
    if name not in defaults or name == "n":
        known = ", ".join(k for k in defaults if k != "n")
        raise ConfigError(f"{family} has no parameter {name!r}; use one of {known}")
    default = defaults[name]
    try:
        if isinstance(default, bool):
            return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}[
                raw.lower()
            ]
        if isinstance(default, tuple):
            return tuple(int(v) for v in raw.split(",") if v.strip())
        return type(default)(raw)
    except (KeyError, ValueError):
        kind = type(default).__name__
        raise ConfigError(f"{family}.{name}={raw!r} is not a valid {kind}") from None


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean, its standard error, median and quartiles over seeds of every metric, per
    policy and generation."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["policy"], row["generation"]), []).append(row)
    out = []
    for (policy, gen), group in groups.items():
        entry: dict[str, Any] = {"policy": policy, "generation": gen, "seeds": len(group)}
        for key in group[0]:
            if key not in ROW_KEYS:
                entry[key] = _stats(np.array([r[key] for r in group], dtype=float))
        out.append(entry)
    return out


def _stats(values: np.ndarray[Any, Any]) -> dict[str, float]:
    q25, med, q75 = np.percentile(values, [25, 50, 75])
    sem = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
    return {
        "mean": float(values.mean()),
        "sem": sem,
        "median": float(med),
        "q25": float(q25),
        "q75": float(q75),
    }


def run_family(
    family: Family,
    policies: list[str],
    generations: int,
    seeds: int,
    real_fraction: float = 0.2,
    on_chain: Callable[[], None] | None = None,
    verification: Verification | None = None,
) -> dict[str, Any]:
    """Every chain of one family; seeds are 0..seeds-1, so runs are reproducible."""
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with single_threaded():
        for policy in check_policies(policies):
            for seed in range(seeds):
                chain = run_chain(family, policy, generations, seed, real_fraction, verification)
                rows.extend(chain)
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


def check_run(
    generations: int,
    seeds: int,
    real_fraction: float,
    scale: float,
    rows: int | None,
    how: Verification,
) -> None:
    """A ConfigError for any run-level setting out of range (before any work)."""
    if generations < 1 or seeds < 1:
        raise ConfigError("generations and seeds must be at least 1; raise them")
    if not 0.0 <= real_fraction <= 1.0:
        raise ConfigError("real_fraction must be between 0 and 1")
    if scale <= 0 or (rows is not None and rows < 1):
        raise ConfigError("scale and rows must be positive")
    if any(v is not None and v < 1 for v in (how.rows, how.oversample)):
        raise ConfigError("verify rows and verify oversample must be at least 1")


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
    rows: int | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    verification: Verification | None = None,
) -> dict[str, Any]:
    """Run the lab and write collapse.json (and FAMILY.png plots) into out_dir."""
    how = verification or Verification()
    check_run(generations, seeds, real_fraction, scale, rows, how)
    policies = check_policies(list(policies or POLICIES))
    params = params or {}
    built = [make_family(name, scale, rows, params.get(name)) for name in families]
    results: dict[str, Any] = {
        "machine": machine(),
        "config": {
            "generations": generations,
            "seeds": seeds,
            "policies": policies,
            "scale": scale,
            "rows": rows,
            "real_fraction": real_fraction,
            "verify_rows": how.rows,
            "verify_oversample": how.oversample,
        },
        "families": {},
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for family in built:
        res = run_family(family, policies, generations, seeds, real_fraction, on_chain, how)
        results["families"][family.name] = res
        if plots:
            from synthmill.collapse.plot import plot_family

            res["plot"] = plot_family(family.name, res, out / f"{family.name}.png")
    with (out / "collapse.json").open("w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=1)  # streamed: long runs never hold the whole text
    return results
