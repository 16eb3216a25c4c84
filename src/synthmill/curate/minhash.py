"""MinHash signatures (rensa, compiled), LSH banding and clustering, as array functions.

Nothing here makes a Python object per row: signatures come from one flat buffer of
shingle hashes, band keys are hashed with numpy, buckets are found by sorting, exact
Jaccard of candidate pairs is counted by sorting, and clusters come from vectorized
union-find (pointer jumping), whose root is the smallest row index of each cluster.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from synthmill.curate.spill import RowFile, ragged_index
from synthmill.errors import MissingExtraError

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
BIG_BUCKET = 32  # buckets larger than this are compared star-wise to their first member
DEFAULT_RECALL = 0.95


def candidate_probability(s: float | F64, bands: int, rows: int) -> float | F64:
    """Chance that a pair of Jaccard s shares at least one band: 1 - (1 - s^r)^b."""
    return 1 - (1 - np.power(s, rows)) ** bands


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int, recall: float = DEFAULT_RECALL) -> tuple[int, int]:
    """Bands and rows so a pair at exactly `threshold` is a candidate with chance >= recall.

    Among those (b * r <= num_perm), the one with the fewest candidates below the
    threshold (smallest area under the S-curve on [0, threshold]); if none reaches
    `recall`, the one that comes closest.
    """
    grid = np.linspace(0.0, threshold, 201)
    best: tuple[float, float, int, int] | None = None
    for r in range(1, num_perm + 1):
        for b in range(1, num_perm // r + 1):
            p = float(candidate_probability(threshold, b, r))
            fp = float(np.mean(candidate_probability(grid, b, r))) * threshold
            key = (0.0 if p >= recall else recall - p, fp, b, r)
            if best is None or key < best:
                best = key
    assert best is not None
    return best[2], best[3]


def datasketch_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """datasketch MinHashLSH's choice (equal weight on false-positive and -negative area)."""
    best, best_err = (1, num_perm), float("inf")
    lo, hi = np.linspace(0.0, threshold, 200), np.linspace(threshold, 1.0, 200)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = _area(1 - (1 - lo**r) ** b, threshold)
            fn = _area((1 - hi**r) ** b, 1.0 - threshold)
            if 0.5 * fp + 0.5 * fn < best_err:
                best, best_err = (b, r), 0.5 * fp + 0.5 * fn
    return best


def _area(values: F64, width: float) -> float:
    return float((values[:-1] + values[1:]).mean() / 2 * width)


def signatures(hashes: U64, offsets: I64, num_perm: int, seed: int) -> U32:
    """One MinHash row per text from its flat shingle hashes, computed in Rust by rensa."""
    try:
        from rensa import RMinHash
    except ImportError:
        raise MissingExtraError("rensa", "curate") from None
    n = len(offsets) - 1
    matrix = RMinHash.digest_matrix_from_flat_token_hashes(
        hashes, offsets.astype(np.uint64), num_perm, seed
    )
    flat = itertools.chain.from_iterable(matrix.to_rows())
    return np.fromiter(flat, dtype=np.uint32, count=n * num_perm).reshape(n, num_perm)


def band_keys(sigs: U32, bands: int, rows: int) -> U64:
    """A 64-bit key per (text, band): equal keys mean (almost surely) equal band slices."""
    keys = np.empty((len(sigs), bands), dtype=np.uint64)
    for band in range(bands):
        mult = np.random.default_rng(band).integers(1, 2**63, size=rows, dtype=np.uint64) | 1
        part = sigs[:, band * rows : (band + 1) * rows].astype(np.uint64)
        with np.errstate(over="ignore"):
            keys[:, band] = (part * mult).sum(axis=1) ^ (part[:, 0] << np.uint64(32))
    return keys


def bucket_pairs(keys: U64, valid: npt.NDArray[np.bool_]) -> I64:
    """Index pairs (i < j) that share a key: all pairs in small buckets, star in big ones."""
    idx = np.flatnonzero(valid)
    order = idx[np.argsort(keys[idx], kind="stable")]
    ks = keys[order]
    if len(ks) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], ks[1:] != ks[:-1])))
    lengths = np.diff(np.concatenate((starts, [len(ks)])))
    parts = [np.zeros((0, 2), dtype=np.int64)]
    for length in np.unique(lengths[lengths > 1]).tolist():
        members = order[starts[lengths == length][:, None] + np.arange(length)]
        if length <= BIG_BUCKET:
            a, b = np.triu_indices(length, 1)
            parts.append(np.stack([members[:, a].ravel(), members[:, b].ravel()], axis=1))
        else:
            first = np.repeat(members[:, :1], length - 1, axis=1)
            parts.append(np.stack([first.ravel(), members[:, 1:].ravel()], axis=1))
    return np.sort(np.concatenate(parts).astype(np.int64), axis=1)


def unique_pairs(found: Iterable[I64]) -> I64:
    """Concatenate pair arrays and drop repeats (packed into one int64 per pair)."""
    packed = [p[:, 0] * (1 << 32) + p[:, 1] for p in found if len(p)]
    if not packed:
        return np.zeros((0, 2), dtype=np.int64)
    u = sorted_unique(np.concatenate(packed))
    return np.stack([u >> 32, u & 0xFFFFFFFF], axis=1)


def estimated_jaccard(sigfile: RowFile, pairs: I64, chunk: int = 16384) -> F64:
    """Share of equal MinHash values of each pair: an unbiased estimate of their Jaccard."""
    out = np.empty(len(pairs), dtype=np.float64)
    for start in range(0, len(pairs), chunk):
        p = pairs[start : start + chunk]
        rows, inverse = unique_inverse(p)
        flat, _ = sigfile.read(rows)
        sigs = flat.reshape(len(rows), -1)
        inv = inverse.reshape(p.shape)
        out[start : start + chunk] = (sigs[inv[:, 0]] == sigs[inv[:, 1]]).mean(axis=1)
    return out


def exact_jaccard(shingles: RowFile, pairs: I64, chunk: int = 4096) -> F64:
    """Jaccard of the stored shingle-hash sets of each pair, counted by sorting."""
    out = np.empty(len(pairs), dtype=np.float64)
    for start in range(0, len(pairs), chunk):
        out[start : start + chunk] = _exact_chunk(shingles, pairs[start : start + chunk])
    return out


def _exact_chunk(shingles: RowFile, pairs: I64) -> F64:
    rows, inverse = unique_inverse(pairs)
    flat, off = shingles.read(rows)
    sets, set_off = _unique_per_row(flat, off)
    sizes = np.diff(set_off)
    inv = inverse.reshape(pairs.shape)
    a, b = inv[:, 0], inv[:, 1]
    both = np.concatenate((sizes[a], sizes[b]))
    pair_ids = np.repeat(np.tile(np.arange(len(pairs), dtype=np.uint64), 2), both)
    values = sets[ragged_index(np.concatenate((set_off[a], set_off[b])), both)]
    keys = np.sort((pair_ids << np.uint64(32)) | values.astype(np.uint64))
    shared = keys[1:][keys[1:] == keys[:-1]] >> np.uint64(32)
    inter = np.bincount(shared.astype(np.int64), minlength=len(pairs))
    union = sizes[a] + sizes[b] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def _unique_per_row(flat: U32, off: I64) -> tuple[U32, I64]:
    """Sorted distinct values of each row, and the new row offsets."""
    row = np.repeat(np.arange(len(off) - 1, dtype=np.uint64), np.diff(off))
    keys = sorted_unique((row << np.uint64(32)) | flat.astype(np.uint64))
    counts = np.bincount((keys >> np.uint64(32)).astype(np.int64), minlength=len(off) - 1)
    new_off = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    return (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32), new_off


def sorted_unique(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Distinct values in ascending order (by sorting; numpy's hash unique is slower here)."""
    values = np.sort(values.ravel())
    if len(values) == 0:
        return values
    return values[np.concatenate(([True], values[1:] != values[:-1]))]


def unique_inverse(values: I64) -> tuple[I64, I64]:
    """Distinct values in ascending order and, for each input, the index of its value."""
    flat = values.ravel()
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    first = np.concatenate(([True], ordered[1:] != ordered[:-1])) if len(flat) else first_empty()
    inverse = np.empty(len(flat), dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse.reshape(values.shape)


def first_empty() -> npt.NDArray[np.bool_]:
    return np.zeros(0, dtype=bool)


def components(pairs: I64) -> tuple[I64, I64]:
    """Union-find over pairs: (member, root) for every member that is not its own root.

    The root of a cluster is its smallest index, so the first row in input order stays.
    """
    if len(pairs) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    nodes, inverse = unique_inverse(pairs)
    a, b = inverse.reshape(pairs.shape).T
    label = np.arange(len(nodes))  # nodes are sorted: smaller label = smaller index
    while True:
        low = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        new = new[new]  # pointer jumping
        if np.array_equal(new, label):
            break
        label = new
    moved = label != np.arange(len(nodes))
    return nodes[moved], nodes[label[moved]]


def resolve(pairs: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Clusters of confirmed duplicate pairs: removed row -> kept (smallest) row."""
    arr = np.array(list(pairs), dtype=np.int64).reshape(-1, 2)
    member, root = components(arr)
    return dict(zip(member.tolist(), root.tolist(), strict=True))
