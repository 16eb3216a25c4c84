"""Privacy: does the synthetic data copy or sit unusually close to its training rows?

- exact copies: synthetic rows equal to a training row on every evaluated column (with the
  holdout's own copies of training rows as the baseline a fresh sample would show);
- DCR share: the share of synthetic rows closer to their nearest training row than to
  their nearest holdout row, a tie counting half (Platzer & Reutterer 2021, "Holdout-based
  empirical assessment of mixed-type synthetic data", Frontiers in Big Data 4:679939;
  mostlyai-qa's `calculate_dcr_share`). That definition compares training and holdout sets
  of equal size, where 0.5 is ideal. With more training than holdout rows, an equal-size
  training sample would drop most of the rows a copy can be caught on (a full copy of the
  training set scores about 0.5 + k / 2n, 0.63 at an 80/20 split), so `dcr_share` keeps
  every training row and calibrates the raw share p to equal sizes: a synthetic row that
  is independent of the split is closer to train with probability b = n_train / (n_train
  + n_holdout) (every real row is equally likely to be its nearest), so p is read as the
  odds ratio against b, share = (p / b) / (p / b + (1 - p) / (1 - b)): 0.5 for a fresh
  sample, 1 for a copy. The published statistic itself, on equal-size samples, is
  `dcr_share_equal_size` (the mean over every equal-size sample of the larger set,
  computed exactly, so the sample adds no noise);
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
from scipy import special
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


def equal_size_share(x_train: Array, x_hold: Array, x_synth: Array) -> float:
    """The DCR share on equal-size training and holdout sets (Platzer & Reutterer 2021):
    k = the smaller set's size, the larger set sampled down to k rows; the mean over every
    such sample, exactly. For a synthetic row at distance d from the smaller set, with m
    rows of the larger set nearer than d and t at d, a k-row sample of the larger set (N
    rows) misses the m nearer ones with probability C(N - m, k) / C(N, k)."""
    small, large = (x_hold, x_train) if len(x_train) >= len(x_hold) else (x_train, x_hold)
    n, k = len(large), len(small)
    d_small = _nearest(small, x_synth)
    # rows of the larger set beyond the K nearest change the share by under 1e-9
    rate = 1.0 - k / n
    depth = n if rate <= 0 else int(min(n, np.ceil(np.log(1e-9) / np.log(rate)) + 1))
    dist, _ = NearestNeighbors(n_neighbors=depth).fit(large).kneighbors(x_synth)
    nearer = np.sum(dist < d_small[:, None], axis=1)
    level = np.sum(dist <= d_small[:, None], axis=1)
    miss_nearer, miss_level = _miss(n, nearer, k), _miss(n, level, k)
    large_wins = (1.0 - miss_nearer) + 0.5 * (miss_nearer - miss_level)
    train_wins = large_wins if large is x_train else 1.0 - large_wins
    return float(np.mean(train_wins))


def _miss(n: int, m: Array, k: int) -> Array:
    """C(n - m, k) / C(n, k): a k-row sample of n rows holds none of m given rows."""
    m = np.asarray(m, dtype=float)
    ok = n - m >= k
    mm = np.where(ok, m, 0.0)
    log = (
        special.gammaln(n - mm + 1)
        - special.gammaln(n - mm - k + 1)
        - special.gammaln(n + 1)
        + special.gammaln(n - k + 1)
    )
    out: Array = np.where(ok, np.exp(log), 0.0)
    return out


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
    d_train = _nearest(x_train, x_synth)
    out |= dcr_share(d_train, _nearest(x_hold, x_synth), len(x_train), len(x_hold))
    out["dcr_share_equal_size"] = equal_size_share(x_train, x_hold, x_synth)
    out["dcr_median_train"] = float(np.median(d_train))
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
