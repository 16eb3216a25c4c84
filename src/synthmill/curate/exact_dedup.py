"""`dedup.exact`: drop rows whose normalized text was already seen; the first one stays.

Pass 1 keeps one 8-byte hash per row (blake2b of the normalized text, not the text): in
memory up to `memory_mb`, beyond it in 64 hash-partitioned files on disk, each sorted on
its own. Rows with equal hashes are one cluster whose first row is kept. Pass 2 streams
the rows again and rejects the others, each naming the kept row. Two different texts
share a 64-bit hash with probability about n^2 / 2^65 (3e-6 for 10 million rows).
"""

from __future__ import annotations

import hashlib
import logging
import string
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from synthmill.curate.arrow_text import normalized, text_column
from synthmill.curate.kept import id_reads, mark, mark_tables
from synthmill.pipeline.columnar import TableResult, select, text_values
from synthmill.pipeline.stage import GlobalStage, StageContext
from synthmill.records import Record

log = logging.getLogger(__name__)
_PUNCT = str.maketrans("", "", string.punctuation)
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
PARTITION_BITS = 6  # 64 partitions once spilling
CHUNK_ROWS = 8192


class ExactDedup(GlobalStage):
    """Drop rows whose normalized text equals an earlier row's; the first row stays."""

    kind: ClassVar[str] = "dedup.exact"
    columns: list[str] = Field(default=["text"], min_length=1, description="Columns compared.")
    lowercase: bool = True
    collapse_whitespace: bool = True
    strip_punctuation: bool = False
    id_column: str | None = Field(
        default="id", description="duplicate_of names this column's value when a row has it."
    )
    memory_mb: float = Field(
        default=256, gt=0, description="Hashes held in memory (16 bytes a row) before spilling."
    )
    workdir: str | None = Field(
        default=None, description="Where hashes spill; defaults to the temp dir."
    )

    def reads(self) -> list[str]:
        return list(self.columns) + id_reads(self.id_column, self.model_fields_set)

    def normalize(self, text: str) -> str:
        if not text.isascii():  # NFKC leaves ASCII as it is
            text = unicodedata.normalize("NFKC", text)
        if self.lowercase:
            text = text.lower()
        if self.strip_punctuation:
            text = text.translate(_PUNCT)
        if self.collapse_whitespace:
            # what re.sub(r"\s+", " ", text).strip() gives: both use str.isspace()'s whitespace
            text = " ".join(text.split())
        return text

    def key(self, record: Record) -> int:
        """A 64-bit hash of the row's normalized columns."""
        parts = [self.normalize(str(record.data.get(c) or "")) for c in self.columns]
        digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little")

    def table_keys(self, table: pa.Table) -> U64:
        """key() of every row of a table, a column at a time (Arrow kernels normalize
        plain ASCII text, Python the rest: curate/arrow_text.py)."""
        values = [text_column(table, c) for c in self.columns]
        if self.strip_punctuation or any(v is None for v in values):
            columns = [map(self.normalize, text_values(table, c)) for c in self.columns]
            joined = map("\x1f".join, zip(*columns, strict=True))
            return _hashes(t.encode() for t in joined)
        norm = [
            normalized(v, self.normalize, self.lowercase, self.collapse_whitespace)
            for v in values
            if v is not None
        ]
        text = norm[0] if len(norm) == 1 else pc.binary_join_element_wise(*norm, "\x1f")
        return _hashes(text.cast(pa.binary()).to_pylist())

    def process_tables(
        self, tables: Iterable[pa.Table], ctx: StageContext
    ) -> Iterator[TableResult]:
        """process_all() on the segment's shards as tables; no Record is made."""
        with tempfile.TemporaryDirectory(prefix="exact-", dir=self.workdir) as tmp:
            hashes = HashTable(Path(tmp), int(self.memory_mb * 2**20 / 16))
            for table in select(tables, self.columns):  # the text only, not the rows
                hashes.add(self.table_keys(table))
            if hashes.spilled:
                ctx.count("spilled_partitions", hashes.partitions)
            removed, kept = hashes.duplicates()
        yield from mark_tables(
            tables, removed, kept, reason="exact duplicate", id_column=self.id_column
        )

    def process_all(self, records: Iterable[Record], ctx: StageContext) -> Iterator[Record]:
        if iter(records) is records:
            log.info("dedup.exact: input is a one-shot iterator; holding it in memory")
            records = list(records)
        with tempfile.TemporaryDirectory(prefix="exact-", dir=self.workdir) as tmp:
            removed, kept = self.duplicates(records, Path(tmp), ctx)
        yield from mark(
            records,
            removed,
            kept,
            label=self.label,
            reason="exact duplicate",
            id_column=self.id_column,
        )

    def duplicates(
        self, records: Iterable[Record], tmp: Path, ctx: StageContext
    ) -> tuple[I64, I64]:
        """(removed rows ascending, the kept row of each), by row index in input order."""
        table = HashTable(tmp, int(self.memory_mb * 2**20 / 16))
        batch: list[int] = []
        for record in records:
            batch.append(self.key(record))
            if len(batch) >= CHUNK_ROWS:
                table.add(np.array(batch, dtype=np.uint64))
                batch = []
        table.add(np.array(batch, dtype=np.uint64))
        if table.spilled:
            ctx.count("spilled_partitions", table.partitions)
        return table.duplicates()


def _hashes(texts: Iterable[bytes]) -> U64:
    """The 8-byte blake2b of each text, as key() makes it."""
    blake = hashlib.blake2b
    digests = b"".join(blake(t, digest_size=8).digest() for t in texts)
    return np.frombuffer(digests, dtype="<u8").astype(np.uint64)


class HashTable:
    """Row hashes in memory, or in hash-partitioned files once over `max_rows`."""

    def __init__(self, directory: Path, max_rows: int) -> None:
        self.directory = directory
        self.max_rows = max(max_rows, 1)
        self.partitions = 1 << PARTITION_BITS
        self.rows = 0
        self._memory_start = 0  # row index of the first hash held in memory
        self._memory: list[U64] = []
        self._files: list[Path] = []

    @property
    def spilled(self) -> bool:
        return bool(self._files)

    def add(self, hashes: U64) -> None:
        self.rows += len(hashes)
        self._memory.append(hashes)
        if self.spilled or self.rows - self._memory_start > self.max_rows:
            self._spill()

    def _spill(self) -> None:
        if not self._files:
            self._files = [self.directory / f"part-{k:02d}.u64" for k in range(self.partitions)]
        hashes = np.concatenate(self._memory)
        index = np.arange(self._memory_start, self.rows, dtype=np.uint64)
        self._memory, self._memory_start = [], self.rows
        part = (hashes >> np.uint64(64 - PARTITION_BITS)).astype(np.int64)
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(self.partitions + 1))
        pairs = np.stack([hashes[order], index[order]], axis=1)
        for k, path in enumerate(self._files):
            if bounds[k + 1] > bounds[k]:
                with open(path, "ab") as fh:
                    fh.write(pairs[bounds[k] : bounds[k + 1]].tobytes())

    def duplicates(self) -> tuple[I64, I64]:
        if not self.spilled:
            hashes = np.concatenate(self._memory) if self._memory else np.zeros(0, np.uint64)
            return first_of_each(hashes, np.arange(len(hashes), dtype=np.uint64))
        found = [first_of_each(*self._read(path)) for path in self._files if path.exists()]
        removed = np.concatenate([f[0] for f in found])
        kept = np.concatenate([f[1] for f in found])
        order = np.argsort(removed, kind="stable")
        return removed[order], kept[order]

    @staticmethod
    def _read(path: Path) -> tuple[U64, U64]:
        pairs = np.fromfile(path, dtype=np.uint64).reshape(-1, 2)
        return pairs[:, 0], pairs[:, 1]


def first_of_each(hashes: U64, index: U64) -> tuple[I64, I64]:
    """For rows whose hash an earlier row has: (row, that earlier first row), by row."""
    order = np.lexsort((index, hashes))
    h, i = hashes[order], index[order].astype(np.int64)
    first = np.concatenate(([True], h[1:] != h[:-1])) if len(h) else np.zeros(0, bool)
    rep = i[np.flatnonzero(first)[np.cumsum(first) - 1]] if len(h) else i
    removed, kept = i[~first], rep[~first]
    order = np.argsort(removed, kind="stable")
    return removed[order], kept[order]
