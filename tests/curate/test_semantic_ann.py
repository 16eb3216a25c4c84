"""dedup.semantic's HNSW (faiss) neighbour search agrees with exact search on a small set.

The vectors are made here (no model needed); the model path is in test_semantic.py."""

from __future__ import annotations

import numpy as np
import pytest

from synthmill.curate.semantic_dedup import SemanticDedup, ann_pairs, similar_pairs

pytest.importorskip("faiss")


def clustered(n: int = 3000, d: int = 64, seed: int = 0) -> np.ndarray:
    """Random unit vectors with 300 planted near-copies (cosine about 0.97-0.99)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    src, dst = rng.integers(n // 2, size=300), n // 2 + rng.choice(n // 2, 300, replace=False)
    x[dst] = x[src] + rng.normal(scale=0.15, size=(300, d)).astype(np.float32)
    x[dst[:20]] = x[src[:20]]  # exact copies too
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_hnsw_pairs_agree_with_exact_search() -> None:
    x = clustered()
    exact = {tuple(p) for p in similar_pairs(x, 0.95).tolist()}
    ann = {tuple(p) for p in ann_pairs(x, 0.95).tolist()}
    assert len(exact) >= 250
    assert ann <= exact  # every ANN pair is a real one (similarities are exact)
    assert len(ann & exact) / len(exact) >= 0.99
    assert np.array_equal(ann_pairs(x, 0.95), ann_pairs(x, 0.95))  # same rows, same graph


def test_index_choice_by_size() -> None:
    x = clustered(n=600)
    auto = SemanticDedup(threshold=0.95, exact_below=10_000).pairs(x)
    forced = SemanticDedup(threshold=0.95, index="hnsw").pairs(x)
    exact = {tuple(p) for p in similar_pairs(x, 0.95).tolist()}
    assert {tuple(p) for p in auto.tolist()} == exact and len(exact) >= 50
    assert {tuple(p) for p in forced.tolist()} == exact
