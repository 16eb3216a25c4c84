"""The steps `synthesize` takes, shared by the pipeline stage, the CLI and the bench:
check the input, hold out, fit, and evaluate a sample against training and holdout rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from synthmill.errors import DataError
from synthmill.tabular.copula import GaussianCopula
from synthmill.tabular.evaluation import evaluate, split_holdout, target_spec
from synthmill.tabular.table import ColumnSpec, profile

METHODS = ("copula",)
PLANNED = {"argn": "mostlyai-engine", "dp": "smartnoise-synth"}


def check_method(method: str) -> None:
    if method in PLANNED:
        raise DataError(
            f"method {method!r} ({PLANNED[method]}) is not available yet; use --method copula"
        )
    if method not in METHODS:
        raise DataError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")


@dataclass
class Fitted:
    model: GaussianCopula
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


def fit(table: pa.Table, method: str, seed: int, target: str | None, holdout: float) -> Fitted:
    """Hold out, then fit `method` on the rest."""
    check_method(method)
    specs = check(table, target, holdout, seed)
    train, held = split_holdout(table, holdout, seed, target)
    started = time.perf_counter()
    model = GaussianCopula(seed=seed, condition=target).fit(train, specs)
    return Fitted(model, specs, train, held, target, time.perf_counter() - started)


def evaluation(fitted: Fitted, synthetic: pa.Table, seed: int) -> dict[str, Any]:
    """evaluation.json: how the columns were modelled, and every metric."""
    holdout = fitted.holdout if fitted.holdout.num_rows else None
    return {
        "method": fitted.model.method,
        "seed": seed,
        "target": fitted.target,
        "fit_seconds": round(fitted.fit_seconds, 3),
        "models": fitted.model.describe(),
        "evaluation": evaluate(fitted.train, synthetic, holdout, fitted.target, seed, fitted.specs),
    }
