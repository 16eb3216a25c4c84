"""MinHash signatures (rensa, compiled), LSH banding and union-find, as plain functions.

Signatures are spilled to a file on disk and memory-mapped, so the resident set stays
bounded by one batch of texts plus one band of hashes, whatever the corpus size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from synthmill.errors import MissingExtraError

U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]
BIG_BUCKET = 32  # buckets larger than this are compared star-wise to their first member


def lsh_params(threshold: float, num_perm: int, fp_weight: float = 0.5) -> tuple[int, int]:
    """Bands and rows per band minimizing weighted false-positive + false-negative area.

    Same criterion as datasketch's MinHashLSH (Leskovec et al., Mining of Massive Datasets
    ch. 3.4), integrated numerically.
    """
    best, best_err = (1, num_perm), float("inf")
    lo = np.linspace(0.0, threshold, 200)
    hi = np.linspace(threshold, 1.0, 200)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = _area(1 - (1 - lo**r) ** b, threshold)
            fn = _area((1 - hi**r) ** b, 1.0 - threshold)
            err = fp_weight * fp + (1 - fp_weight) * fn
            if err < best_err:
                best, best_err = (b, r), err
    return best


def _area(values: npt.NDArray[np.float64], width: float) -> float:
    """Trapezoid integral of values sampled on a uniform grid of the given width."""
    return float((values[:-1] + values[1:]).mean() / 2 * width)


def signatures(token_sets: list[set[str]], num_perm: int, seed: int) -> U32:
    """One MinHash row per token set (uint32), computed in Rust by rensa."""
    try:
        from rensa import RMinHash
    except ImportError:
        raise MissingExtraError("rensa", "curate") from None
    matrix = RMinHash.digest_matrix_from_token_sets(token_sets, num_perm=num_perm, seed=seed)
    return np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(len(token_sets), num_perm)


@dataclass
class SignatureFile:
    """An append-only file of uint32 signature rows, read back as a memory map."""

    path: Path
    num_perm: int
    rows: int = 0

    def append(self, sigs: U32, fh: BinaryIO) -> None:
        fh.write(np.ascontiguousarray(sigs, dtype=np.uint32).tobytes())
        self.rows += len(sigs)

    def open(self) -> U32:
        if self.rows == 0:
            return np.zeros((0, self.num_perm), dtype=np.uint32)
        return np.memmap(self.path, dtype=np.uint32, mode="r", shape=(self.rows, self.num_perm))


def band_hashes(sigs: U32, band: int, rows: int, chunk: int = 65536) -> npt.NDArray[np.uint64]:
    """A 64-bit hash of one band of every signature, computed chunk by chunk."""
    mult = np.random.default_rng(band).integers(1, 2**63, size=rows, dtype=np.uint64) | 1
    out = np.empty(len(sigs), dtype=np.uint64)
    for start in range(0, len(sigs), chunk):
        part = np.asarray(sigs[start : start + chunk, band * rows : (band + 1) * rows])
        with np.errstate(over="ignore"):
            out[start : start + chunk] = (part.astype(np.uint64) * mult).sum(axis=1)
    return out


def bucket_pairs(hashes: npt.NDArray[np.uint64], valid: npt.NDArray[np.bool_]) -> I64:
    """Index pairs (i < j) that share a bucket: all pairs in small buckets, star in big ones."""
    idx = np.flatnonzero(valid)
    order = idx[np.argsort(hashes[idx], kind="stable")]
    hs = hashes[order]
    if len(hs) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    edges = np.flatnonzero(np.diff(hs)) + 1
    starts = np.concatenate(([0], edges))
    lengths = np.diff(np.concatenate((starts, [len(hs)])))
    parts = [np.zeros((0, 2), dtype=np.int64)]
    for length in np.unique(lengths[lengths > 1]):
        members = order[starts[lengths == length][:, None] + np.arange(length)]
        if length <= BIG_BUCKET:
            a, b = np.triu_indices(int(length), 1)
            parts.append(np.stack([members[:, a].ravel(), members[:, b].ravel()], axis=1))
        else:
            first = np.repeat(members[:, :1], length - 1, axis=1)
            parts.append(np.stack([first.ravel(), members[:, 1:].ravel()], axis=1))
    pairs = np.concatenate(parts).astype(np.int64)
    return np.sort(pairs, axis=1)


def candidate_pairs(sigs: U32, valid: npt.NDArray[np.bool_], bands: int, rows: int) -> I64:
    """Unique pairs that collide in at least one LSH band."""
    found = [bucket_pairs(band_hashes(sigs, b, rows), valid) for b in range(bands)]
    pairs = np.concatenate(found) if found else np.zeros((0, 2), dtype=np.int64)
    return np.unique(pairs, axis=0) if len(pairs) else pairs


def estimated_jaccard(sigs: U32, pairs: I64, chunk: int = 65536) -> npt.NDArray[np.float64]:
    """Share of equal MinHash values of each pair: an unbiased estimate of their Jaccard."""
    out = np.empty(len(pairs), dtype=np.float64)
    for start in range(0, len(pairs), chunk):
        p = pairs[start : start + chunk]
        out[start : start + chunk] = (sigs[p[:, 0]] == sigs[p[:, 1]]).mean(axis=1)
    return out


class UnionFind:
    """Disjoint sets over row indices; the root of each set is its smallest index."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        parent = self.parent
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])  # path halving
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = min(ra, rb), max(ra, rb)
            self.parent[hi] = lo

    def clusters(self) -> Iterator[tuple[int, int]]:
        """(member, root) for every member that is not its own root."""
        for x in list(self.parent):
            root = self.find(x)
            if root != x:
                yield x, root


def resolve(pairs: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Union-find over confirmed duplicate pairs: removed row -> kept representative."""
    uf = UnionFind()
    for a, b in pairs:
        uf.union(int(a), int(b))
    return dict(uf.clusters())
