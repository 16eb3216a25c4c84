"""Detection and utility, both with scikit-learn's histogram gradient boosting.

Detection: a classifier's cross-validated ROC AUC at telling real training rows from
synthetic ones (0.5: indistinguishable; 1.0: trivially told apart). Utility: train on
synthetic, test on the real holdout (TSTR) against train on real, test on the same
holdout (TRTR), with the same model: accuracy and macro-F1 for a categorical target,
R^2 for a numeric one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import accuracy_score, f1_score, r2_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from synthmill.tabular.features import Encoder, is_numeric, numbers
from synthmill.tabular.table import ColumnSpec

Array = np.ndarray[Any, Any]
DETECTION_ROWS = 5_000  # rows of each kind the detector sees at most
CLASSIFY_MAX_LEVELS = 10  # a discrete numeric target with at most this many values is classified


def _take(x: Array, k: int, rng: np.random.Generator) -> Array:
    return x if len(x) <= k else x[rng.choice(len(x), k, replace=False)]


def detection_auc(encoder: Encoder, real: pa.Table, synth: pa.Table, seed: int) -> float | None:
    """Cross-validated (3-fold) AUC of a real-vs-synthetic classifier; None without columns."""
    rng = np.random.default_rng([seed, 3])
    xr, mask = encoder.model_matrix(real)
    xs, _ = encoder.model_matrix(synth)
    if xr.shape[1] == 0:
        return None
    k = min(len(xr), len(xs), DETECTION_ROWS)
    x = np.vstack([_take(xr, k, rng), _take(xs, k, rng)])
    y = np.concatenate([np.zeros(k), np.ones(k)])
    model = HistGradientBoostingClassifier(categorical_features=mask, random_state=seed)
    folds = StratifiedKFold(3, shuffle=True, random_state=seed)
    proba = cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, proba))


def task_of(spec: ColumnSpec, table: pa.Table) -> str:
    if not is_numeric(spec):
        return "classification"
    distinct = len(np.unique(numbers(table.column(spec.name))))
    small = spec.kind == "discrete" and distinct <= CLASSIFY_MAX_LEVELS
    return "classification" if small else "regression"


def _labelled(
    encoder: Encoder, table: pa.Table, target: ColumnSpec, task: str
) -> tuple[Array, Array]:
    x, _ = encoder.model_matrix(table, exclude=target.name)
    if task == "classification" and not is_numeric(target):
        y = encoder.codes(table, target.name, 10**6)
    else:
        y = numbers(table.column(target.name))
    keep = ~np.isnan(y)
    return x[keep], y[keep]


def _score(
    task: str, model: Any, x_fit: Array, y_fit: Array, x: Array, y: Array
) -> dict[str, float]:
    model.fit(x_fit, y_fit)
    pred = model.predict(x)
    if task == "regression":
        return {"r2": float(r2_score(y, pred))}
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(f1_score(y, pred, average="macro")),
    }


def _model(task: str, mask: Array, y_fit: Array, seed: int) -> Any:
    if task == "regression":
        return HistGradientBoostingRegressor(categorical_features=mask, random_state=seed)
    if len(np.unique(y_fit)) < 2:  # a one-class synthetic target: predict that class
        return DummyClassifier(strategy="most_frequent")
    return HistGradientBoostingClassifier(categorical_features=mask, random_state=seed)


def utility(
    encoder: Encoder,
    target: ColumnSpec,
    train: pa.Table,
    synth: pa.Table,
    holdout: pa.Table,
    seed: int,
) -> dict[str, Any]:
    """TSTR and TRTR on the holdout, and their ratio on the main metric."""
    task = task_of(target, train)
    _, mask = encoder.model_matrix(train.slice(0, 1), exclude=target.name)
    x_test, y_test = _labelled(encoder, holdout, target, task)
    out: dict[str, Any] = {"target": target.name, "task": task, "model": "HistGradientBoosting"}
    for name, table in (("trtr", train), ("tstr", synth)):
        x_fit, y_fit = _labelled(encoder, table, target, task)
        model = _model(task, mask, y_fit, seed)
        out[name] = _score(task, model, x_fit, y_fit, x_test, y_test)
    main = "r2" if task == "regression" else "accuracy"
    trtr = out["trtr"][main]
    out["main_metric"] = main
    out["tstr_over_trtr"] = out["tstr"][main] / trtr if trtr > 0 else None
    return out
