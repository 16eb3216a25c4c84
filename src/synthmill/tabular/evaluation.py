"""One evaluation of synthetic against real tables: fidelity, detection, utility, privacy.

`evaluate` returns plain JSON-able data (evaluation.json, `tabular evaluate --json`);
`card_summary` turns it into the rows of the card's table; `split_holdout` is the
stratified holdout that `synthesize` keeps out of the fit.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from threadpoolctl import threadpool_limits

from synthmill.errors import DataError
from synthmill.tabular.features import Encoder, align
from synthmill.tabular.fidelity import fidelity
from synthmill.tabular.privacy import privacy
from synthmill.tabular.table import ColumnSpec, profile
from synthmill.tabular.utility import detection_auc, utility


def target_spec(specs: list[ColumnSpec], target: str | None, table: pa.Table) -> ColumnSpec | None:
    """The target's spec, or a one-line DataError when it cannot be a target."""
    if target is None:
        return None
    names = [s.name for s in specs]
    if target not in names:
        raise DataError(f"--target {target!r} is not a column; columns: {', '.join(names)}")
    spec = specs[names.index(target)]
    if not spec.modelled:
        raise DataError(f"--target {target!r} is {spec.kind} and cannot be predicted; pick another")
    if pc.count_distinct(table.column(target)).as_py() < 2:
        raise DataError(
            f"--target {target!r} has one value in every row; a model needs two or more classes"
        )
    return spec


def split_holdout(
    table: pa.Table, share: float, seed: int, target: str | None = None
) -> tuple[pa.Table, pa.Table]:
    """(train, holdout): `share` of the rows held out, stratified by `target` when given."""
    if not 0.0 <= share < 1.0:
        raise DataError(f"--holdout {share} must be in [0, 1)")
    n = table.num_rows
    rng = np.random.default_rng([seed, 11])
    if share == 0.0:
        return table, table.slice(0, 0)
    groups = (
        np.asarray(
            pc.index_in(
                table.column(target).cast(pa.string()),
                value_set=pc.unique(table.column(target).cast(pa.string())),
                skip_nulls=False,
            ).to_numpy(zero_copy_only=False)
        )
        if target is not None
        else np.zeros(n, dtype=int)
    )
    held = np.zeros(n, dtype=bool)
    for g in np.unique(groups):
        rows = rng.permutation(np.flatnonzero(groups == g))
        held[rows[: round(share * len(rows))]] = True
    if held.all() or not held.any():
        raise DataError(f"{n} rows are too few to hold out {share:.0%} and train on the rest")
    return table.filter(pa.array(~held)), table.filter(pa.array(held))


def evaluate(
    train: pa.Table,
    synthetic: pa.Table,
    holdout: pa.Table | None = None,
    target: str | None = None,
    seed: int = 0,
    specs: list[ColumnSpec] | None = None,
    threads: int = 1,
) -> dict[str, Any]:
    """Every metric of synthetic against real; the holdout enables utility and DCR/MIA."""
    started = time.perf_counter()
    specs = specs or profile(train)
    synthetic = align(train, synthetic, "synthetic")
    holdout = align(train, holdout, "holdout") if holdout is not None else None
    if synthetic.num_rows == 0:
        raise DataError("the synthetic table has no rows; nothing to evaluate")
    tspec = target_spec(specs, target, train)
    encoder = Encoder.fit(train, specs)
    with threadpool_limits(threads):  # OpenMP threads spin badly on a shared, busy machine
        out = _measure(specs, encoder, tspec, train, synthetic, holdout, seed)
    out["notes"] = _notes(specs, tspec, holdout)
    out["seconds"] = round(time.perf_counter() - started, 3)
    return out


def _measure(
    specs: list[ColumnSpec],
    encoder: Encoder,
    tspec: ColumnSpec | None,
    train: pa.Table,
    synthetic: pa.Table,
    holdout: pa.Table | None,
    seed: int,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rows": {
            "train": train.num_rows,
            "synthetic": synthetic.num_rows,
            "holdout": holdout.num_rows if holdout is not None else 0,
        },
        "columns": {s.name: {"kind": s.kind, "notes": s.notes} for s in specs},
        "fidelity": fidelity(specs, train, synthetic),
        "detection_auc": detection_auc(encoder, train, synthetic, seed),
    }
    if tspec is not None and holdout is not None and holdout.num_rows:
        out["utility"] = utility(encoder, tspec, train, synthetic, holdout, seed)
    out["privacy"] = privacy(encoder, train, synthetic, holdout, seed)
    return out


def _notes(
    specs: list[ColumnSpec], target: ColumnSpec | None, holdout: pa.Table | None
) -> list[str]:
    notes = [f"{s.name}: {n}" for s in specs for n in s.notes]
    skipped = [s.name for s in specs if not s.modelled]
    if skipped:
        notes.append(f"not evaluated (generated, not modelled): {', '.join(skipped)}")
    if sum(s.modelled for s in specs) < 2:
        notes.append("fewer than two modelled columns: no column pairs to compare")
    if holdout is None or holdout.num_rows == 0:
        notes.append("no holdout: utility, DCR share and membership inference not measured")
    elif target is None:
        notes.append("no target: utility (TSTR/TRTR) not measured; pass --target")
    return notes


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def headline(ev: dict[str, Any]) -> dict[str, Any]:
    """The few numbers that say how good a synthetic table is."""
    fid, priv = ev["fidelity"], ev["privacy"]
    out = {
        "fidelity": fid["overall"],
        "column_shapes": fid["column_shapes"],
        "pair_trends": fid["pair_trends"],
        "detection_auc": ev["detection_auc"],
        "exact_copies": priv["exact_copies"],
        "dcr_share": priv.get("dcr_share"),
        "dcr_share_equal_size": priv.get("dcr_share_equal_size"),
        "mia_auc": priv.get("mia_auc"),
    }
    if "utility" in ev:
        u = ev["utility"]
        out["tstr"] = u["tstr"][u["main_metric"]]
        out["trtr"] = u["trtr"][u["main_metric"]]
    return out


def card_summary(ev: dict[str, Any], models: dict[str, str] | None = None) -> dict[str, Any]:
    """Rows of the card table: headline metrics, then one row per column."""
    main = ev.get("utility", {}).get("main_metric", "")
    ideal = {
        "fidelity": "mean of column shapes and pair trends; 1 is ideal",
        "detection_auc": "real-vs-synthetic classifier, 3-fold; 0.5 is ideal",
        "exact_copies": "synthetic rows equal to a training row",
        "dcr_share": "closer to train than to holdout (size-adjusted); 0.5 ideal, 1 copying",
        "dcr_share_equal_size": "the same on equal-size train and holdout samples (Platzer "
        "& Reutterer 2021); 0.5 ideal; a copy scores 1 only when the sizes are equal",
        "mia_auc": "distance-based membership inference; 0.5 is ideal",
        "tstr": f"{main} on the real holdout, model trained on synthetic rows",
        "trtr": f"{main} on the real holdout, model trained on real rows",
    }
    sd = ev["privacy"].get("mia_auc_null_sd")
    if sd is not None:
        ideal["mia_auc"] += f" (a chance attacker: +/- {sd:.2f} at this holdout size)"
    rows: dict[str, Any] = {
        name: {"score": _fmt(v), "detail": ideal.get(name, "")}
        for name, v in headline(ev).items()
        if v is not None
    }
    shapes = ev["fidelity"]["columns"]
    for name, col in ev["columns"].items():
        how = (models or {}).get(name, col["kind"])
        detail = "; ".join([how, *col["notes"]]).replace("|", "/")
        rows[f"column {name}"] = {"score": _fmt(shapes.get(name, "-")), "detail": detail}
    for note in ev["notes"]:
        if "not measured" in note or "no column pairs" in note:
            rows[f"note {len(rows)}"] = {"score": "-", "detail": note}
    return rows
