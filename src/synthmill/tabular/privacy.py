"""Privacy: does the synthetic data copy or sit unusually close to its training rows?

- exact copies: synthetic rows equal to a training row on every evaluated column (with the
  holdout's own copies of training rows as the baseline a fresh sample would show);
- DCR share: the share of synthetic rows closer to their nearest training row than to
  their nearest holdout row. With equal set sizes 0.5 is ideal; train and holdout sizes
  differ here, so the raw share p is re-weighted by the sizes (b = n_train / (n_train +
  n_holdout) is what a fresh sample gives): share = (p / b) / (p / b + (1 - p) / (1 - b));
- membership inference: an attacker scores a real row by minus its distance to the
  nearest synthetic row; the AUC of telling training rows from holdout rows that way
  (0.5: the synthetic data gives members away no better than chance). With k holdout
  rows the AUC of a useless attacker still varies by sqrt((2k + 1) / (12 k^2)) (0.075 for
  iris' 30): `mia_auc_null_sd`, so 0.56 there is chance, not a leak.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

from synthmill.records import stable_hash
from synthmill.tabular.features import Encoder

Array = np.ndarray[Any, Any]
MAX_ROWS = 10_000  # rows of each set used for distances


def _rows(table: pa.Table, rng: np.random.Generator, limit: int = MAX_ROWS) -> pa.Table:
    if table.num_rows <= limit:
        return table
    return table.take(pa.array(np.sort(rng.choice(table.num_rows, limit, replace=False))))


def _nearest(reference: Array, query: Array) -> Array:
    nn = NearestNeighbors(n_neighbors=1).fit(reference)
    dist, _ = nn.kneighbors(query)
    return np.asarray(dist[:, 0])


def _row_keys(table: pa.Table, names: list[str]) -> set[str]:
    return {stable_hash(row) for row in table.select(names).to_pylist()}


def exact_copies(encoder: Encoder, train: pa.Table, other: pa.Table) -> tuple[int, float]:
    names = [s.name for s in encoder.specs]
    seen = _row_keys(train, names)
    keys = [stable_hash(row) for row in other.select(names).to_pylist()]
    copies = sum(k in seen for k in keys)
    return copies, copies / max(len(keys), 1)


def dcr_share(d_train: Array, d_holdout: Array, n_train: int, n_holdout: int) -> dict[str, float]:
    closer = np.mean(d_train < d_holdout) + 0.5 * np.mean(d_train == d_holdout)
    base = n_train / (n_train + n_holdout)
    p = float(np.clip(closer, 1e-9, 1 - 1e-9))
    adjusted = (p / base) / (p / base + (1 - p) / (1 - base))
    return {"dcr_share": float(adjusted), "dcr_share_raw": float(closer), "dcr_baseline": base}


def privacy(
    encoder: Encoder, train: pa.Table, synth: pa.Table, holdout: pa.Table | None, seed: int
) -> dict[str, Any]:
    """Exact copies always; DCR share and membership-inference AUC when there is a holdout."""
    rng = np.random.default_rng([seed, 7])
    train_s, synth_s = _rows(train, rng), _rows(synth, rng)
    copies, share = exact_copies(encoder, train, synth_s)
    out: dict[str, Any] = {"exact_copies": copies, "exact_copy_share": share}
    if holdout is None or holdout.num_rows == 0 or not encoder.specs:
        return out
    hold_s = _rows(holdout, rng)
    out["holdout_copy_share"] = exact_copies(encoder, train, hold_s)[1]
    x_train, x_hold = encoder.distance_matrix(train_s), encoder.distance_matrix(hold_s)
    x_synth = encoder.distance_matrix(synth_s)
    out |= dcr_share(
        _nearest(x_train, x_synth), _nearest(x_hold, x_synth), len(x_train), len(x_hold)
    )
    out["dcr_median_train"] = float(np.median(_nearest(x_train, x_synth)))
    out["mia_auc"] = membership_auc(x_train, x_hold, x_synth, rng)
    out["mia_auc_null_sd"] = null_auc_sd(min(len(x_train), len(x_hold)))
    return out


def membership_auc(
    x_train: Array, x_hold: Array, x_synth: Array, rng: np.random.Generator
) -> float:
    """AUC of -distance-to-nearest-synthetic at telling members (train) from non-members."""
    k = min(len(x_train), len(x_hold))
    members = x_train[rng.choice(len(x_train), k, replace=False)]
    others = x_hold[rng.choice(len(x_hold), k, replace=False)]
    scores = -_nearest(x_synth, np.vstack([members, others]))
    labels = np.concatenate([np.ones(k), np.zeros(k)])
    return float(roc_auc_score(labels, scores))


def null_auc_sd(k: int) -> float:
    """Standard deviation of the AUC of a score unrelated to membership, k rows a side
    (the Mann-Whitney statistic's null variance, (2k + 1) / (12 k^2))."""
    return float(np.sqrt((2 * k + 1) / (12.0 * k * k))) if k > 0 else float("nan")
