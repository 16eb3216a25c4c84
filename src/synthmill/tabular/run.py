"""The steps `synthesize` takes, shared by the pipeline stage, the CLI and the bench:
check the input, hold out, fit, and evaluate a sample against training and holdout rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from synthmill.errors import DataError
from synthmill.tabular.evaluation import evaluate, split_holdout, target_spec
from synthmill.tabular.table import ColumnSpec, profile

METHODS = ("copula", "dp", "argn")


@dataclass
class Options:
    """What `dp` and `argn` take beyond the method (ignored by the others)."""

    epsilon: float = 1.0
    delta: float | None = None
    mechanism: str = "mst"
    bounds: dict[str, tuple[float, float]] | str | None = None
    epochs: float | None = None


def check_method(method: str, options: Options | None = None) -> None:
    """An unknown method, a bad option or a missing library: a one-line error, first."""
    from synthmill.tabular import extras

    if method not in METHODS:
        raise DataError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    options = options or Options()
    if method == "dp":
        from synthmill.tabular.dp import check_options

        check_options(options.epsilon, options.delta, options.mechanism, options.bounds)
    if method == "argn":
        from synthmill.tabular.argn import check_epochs

        check_epochs(options.epochs)
    extras.require(method)


def make(method: str, seed: int, target: str | None, options: Options) -> Any:
    if method == "dp":
        from synthmill.tabular.dp import DPSynthesizer

        return DPSynthesizer(
            seed, options.epsilon, options.delta, options.mechanism, options.bounds
        )
    if method == "argn":
        from synthmill.tabular.argn import ARGNSynthesizer

        return ARGNSynthesizer(seed, options.epochs)
    from synthmill.tabular.copula import GaussianCopula

    return GaussianCopula(seed=seed, condition=target)


@dataclass
class Fitted:
    model: Any
    specs: list[ColumnSpec]
    train: pa.Table
    holdout: pa.Table
    target: str | None
    fit_seconds: float


def check(table: pa.Table, target: str | None, holdout: float, seed: int) -> list[ColumnSpec]:
    """Every input problem as a one-line DataError, before anything is fitted or written."""
    specs = profile(table)
    target_spec(specs, target, table)
    split_holdout(table, holdout, seed, target)
    return specs


def fit(
    table: pa.Table,
    method: str,
    seed: int,
    target: str | None,
    holdout: float,
    options: Options | None = None,
) -> Fitted:
    """Hold out, then fit `method` on the rest."""
    options = options or Options()
    check_method(method, options)
    specs = check(table, target, holdout, seed)
    train, held = split_holdout(table, holdout, seed, target)
    started = time.perf_counter()
    model = make(method, seed, target, options).fit(train, specs)
    return Fitted(model, specs, train, held, target, time.perf_counter() - started)


def guarantee(model: Any) -> dict[str, Any] | None:
    """The privacy guarantee a method gives (dp: epsilon, delta, mechanism...), or None."""
    found: dict[str, Any] | None = getattr(model, "guarantee", None)
    return found or None


def evaluation(fitted: Fitted, synthetic: pa.Table, seed: int) -> dict[str, Any]:
    """evaluation.json: how the columns were modelled, and every metric."""
    holdout = fitted.holdout if fitted.holdout.num_rows else None
    out: dict[str, Any] = {
        "method": fitted.model.method,
        "seed": seed,
        "target": fitted.target,
        "fit_seconds": round(fitted.fit_seconds, 3),
        "privacy_guarantee": guarantee(fitted.model),
    }
    details = getattr(fitted.model, "details", None)
    if details:
        out["engine"] = details
    out["models"] = fitted.model.describe()
    out["evaluation"] = evaluate(
        fitted.train, synthetic, holdout, fitted.target, seed, fitted.specs
    )
    return out
