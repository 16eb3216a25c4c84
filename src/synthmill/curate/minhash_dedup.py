"""`dedup.minhash`: near-duplicate removal with MinHash, LSH banding and union-find.

Pass 1 reads the rows a chunk at a time: shingle hashes (numpy, `shingling`), MinHash
signatures (rensa) and LSH band keys are computed in worker threads, and band keys plus
either the shingle hashes (`confirm: exact`) or the signatures (`confirm: estimate`) are
spilled to disk. Bands and rows are chosen so that a pair at exactly `threshold` shares a
band with probability >= `recall`; candidates are then confirmed by exact (or estimated)
Jaccard, clustered by union-find, and the first row of each cluster in input order is
kept. Pass 2 streams the rows again and rejects the others, each naming the kept row.
"""

from __future__ import annotations

import logging
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from pydantic import Field

from synthmill.curate import minhash as mh
from synthmill.curate.kept import id_reads, mark, mark_tables
from synthmill.curate.shingling import shingle_hashes
from synthmill.curate.spill import ColumnFiles, RowFile
from synthmill.curate.text import ShingleKind, text_of
from synthmill.pipeline.columnar import TableResult, select, text_values
from synthmill.pipeline.stage import GlobalStage, StageContext
from synthmill.records import Record

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Found:
    """Removed rows (ascending), the kept row each duplicates, and their similarity."""

    removed: mh.I64
    kept: mh.I64
    similarity: mh.F64


@dataclass
class _Chunk:
    keys: mh.U64
    sizes: mh.I64
    stored: npt.NDArray[np.uint32]  # shingle hashes (exact) or signatures (estimate)


class MinHashDedup(GlobalStage):
    """Drop near-duplicates (Jaccard of shingle sets >= threshold); the first row stays."""

    kind: ClassVar[str] = "dedup.minhash"
    requires: ClassVar[tuple[tuple[str, str, str], ...]] = (("rensa", "rensa", "curate"),)
    columns: list[str] = Field(default=["text"], min_length=1, description="Columns compared.")
    threshold: float = Field(
        default=0.8,
        gt=0,
        lt=1,
        description="Jaccard for a duplicate: with confirm: exact no pair below it is removed, "
        "and a pair at or above it is found with probability >= recall.",
    )
    recall: float = Field(
        default=mh.DEFAULT_RECALL,
        gt=0,
        lt=1,
        description="Chance that a pair at exactly `threshold` is an LSH candidate "
        "(bands and rows are chosen for it; higher Jaccard, higher chance).",
    )
    shingle: ShingleKind = Field(default="word", description="word or char shingles.")
    shingle_size: int = Field(default=5, ge=1, description="Words (or characters) per shingle.")
    num_perm: int = Field(
        default=128,
        ge=16,
        le=1024,
        description="MinHash permutations (confirm: exact computes only the bands x rows used).",
    )
    confirm: Literal["estimate", "exact"] = Field(
        default="exact",
        description="Confirm LSH candidates by exact Jaccard of the shingle sets (64-bit "
        "shingle hashes kept on disk) or by the MinHash estimate (about +-0.035 at 0.8).",
    )
    lowercase: bool = Field(default=True, description="Fold case before shingling.")
    strip_punctuation: bool = Field(default=True, description="Drop punctuation first.")
    seed: int = Field(default=1, description="MinHash seed (same seed, same signatures).")
    chunk_rows: int = Field(default=1024, ge=1, description="Rows shingled per batch.")
    workers: int = Field(default=2, ge=1, description="Threads that shingle and hash.")
    id_column: str | None = Field(
        default="id", description="duplicate_of names this column's value when a row has it."
    )
    workdir: str | None = Field(
        default=None, description="Where band keys and hashes spill; defaults to the temp dir."
    )

    def reads(self) -> list[str]:
        return list(self.columns) + id_reads(self.id_column, self.model_fields_set)

    def lsh(self) -> tuple[int, int]:
        """(bands, rows per band) for this threshold, recall and num_perm."""
        return mh.lsh_params(self.threshold, self.num_perm, self.recall)

    def process_all(self, records: Iterable[Record], ctx: StageContext) -> Iterator[Record]:
        if iter(records) is records:
            log.info("dedup.minhash: input is a one-shot iterator; holding it in memory")
            records = list(records)
        with tempfile.TemporaryDirectory(prefix="minhash-", dir=self.workdir) as tmp:
            found = self.duplicates(records, Path(tmp), ctx)
        yield from mark(
            records,
            found.removed,
            found.kept,
            label=self.label,
            reason="near duplicate",
            id_column=self.id_column,
            similarity=found.similarity,
        )

    def process_tables(
        self, tables: Iterable[pa.Table], ctx: StageContext
    ) -> Iterator[TableResult]:
        """process_all() on the segment's shards as tables: pass 1 reads only the text."""
        with tempfile.TemporaryDirectory(prefix="minhash-", dir=self.workdir) as tmp:
            found = self._found(self._table_texts(tables), Path(tmp), ctx)
        yield from mark_tables(
            tables,
            found.removed,
            found.kept,
            reason="near duplicate",
            id_column=self.id_column,
            similarity=found.similarity,
        )

    def _table_texts(self, tables: Iterable[pa.Table]) -> Iterator[list[str]]:
        """The texts _texts() gives, in chunks of chunk_rows, from the text columns only."""
        batch: list[str] = []
        for table in select(tables, self.columns):
            if len(self.columns) == 1:
                batch += text_values(table, self.columns[0])
            else:
                batch += [text_of(row, self.columns) for row in table.to_pylist()]
            while len(batch) >= self.chunk_rows:
                yield batch[: self.chunk_rows]
                batch = batch[self.chunk_rows :]
        if batch:
            yield batch

    def duplicates(self, records: Iterable[Record], tmp: Path, ctx: StageContext) -> Found:
        """Which rows are near-duplicates of which kept rows (indices in input order)."""
        return self._found(self._texts(records), tmp, ctx)

    def _found(self, texts: Iterable[list[str]], tmp: Path, ctx: StageContext) -> Found:
        bands, _ = self.lsh()
        keys = ColumnFiles(tmp, "band", bands, np.uint64)
        store = RowFile(tmp / "stored.u32", np.uint32)
        valid = self._hash_all(texts, keys, store)
        keys.close()
        store.close()
        found = (mh.bucket_pairs(keys.column(k), valid) for k in range(bands))
        pairs = mh.unique_pairs(found)
        ctx.count("candidate_pairs", len(pairs))
        confirmed = pairs[self._similarity(store, pairs) >= self.threshold]
        ctx.count("confirmed_pairs", len(confirmed))
        removed, kept = mh.components(confirmed)
        sims = self._similarity(store, np.stack([kept, removed], axis=1))
        return Found(removed, kept, sims)

    def _similarity(self, store: RowFile, pairs: mh.I64) -> mh.F64:
        if len(pairs) == 0:
            return np.zeros(0, dtype=np.float64)
        if self.confirm == "exact":
            return mh.exact_jaccard(store, pairs)
        return mh.estimated_jaccard(store, pairs)

    def _hash_all(
        self, texts: Iterable[list[str]], keys: ColumnFiles, store: RowFile
    ) -> npt.NDArray[np.bool_]:
        valid: list[npt.NDArray[np.bool_]] = []
        for chunk in ordered_map(self._hash_chunk, texts, self.workers):
            keys.append(chunk.keys)
            store.append(chunk.stored, chunk.sizes)
            valid.append(chunk.sizes > 0)
        return np.concatenate(valid) if valid else np.zeros(0, dtype=bool)

    def _texts(self, records: Iterable[Record]) -> Iterator[list[str]]:
        batch: list[str] = []
        column = self.columns[0] if len(self.columns) == 1 else None
        for record in records:
            if column is None:
                batch.append(text_of(record.data, self.columns))
            else:  # the same text as text_of, without its generator
                value = record.data.get(column)
                batch.append(value if type(value) is str else str(value or ""))
            if len(batch) >= self.chunk_rows:
                yield batch
                batch = []
        if batch:
            yield batch

    def _hash_chunk(self, texts: list[str]) -> _Chunk:
        """Band keys and what is kept for confirmation, for one chunk of texts."""
        hashes, offsets = shingle_hashes(
            texts,
            self.shingle,
            self.shingle_size,
            lowercase=self.lowercase,
            punctuation=self.strip_punctuation,
        )
        sizes = np.diff(offsets)
        bands, rows = self.lsh()
        perms = bands * rows if self.confirm == "exact" else self.num_perm  # exact: bands only
        sigs = mh.signatures(hashes, offsets, perms, self.seed)
        keys = mh.band_keys(sigs, bands, rows)
        if self.confirm == "exact":
            return _Chunk(keys, sizes, hashes.astype(np.uint32))
        fixed = np.where(sizes > 0, self.num_perm, 0)
        return _Chunk(keys, fixed, sigs[sizes > 0].ravel())


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """fn over items in worker threads, results in input order, a few items ahead at most."""
    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="minhash") as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
