"""`dedup.minhash`: near-duplicate removal with MinHash, LSH banding and union-find.

Pass 1 shingles every row and spills its MinHash signature to disk; LSH bands (chosen
from the threshold) give candidate pairs, which are confirmed by estimated or exact
Jaccard; union-find groups them and the first row of each cluster in input order is
kept. Pass 2 streams the rows again and rejects the others, naming the kept row.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from synthmill.curate import minhash as mh
from synthmill.curate.text import ShingleKind, jaccard, normalize, shingles, text_of
from synthmill.pipeline.stage import GlobalStage, StageContext
from synthmill.records import Record

log = logging.getLogger(__name__)


class MinHashDedup(GlobalStage):
    """Drop near-duplicates (Jaccard of shingle sets >= threshold); the first row stays."""

    kind: ClassVar[str] = "dedup.minhash"
    requires: ClassVar[tuple[tuple[str, str, str], ...]] = (("rensa", "rensa", "curate"),)
    columns: list[str] = Field(default=["text"], min_length=1, description="Columns compared.")
    threshold: float = Field(default=0.8, gt=0, lt=1, description="Jaccard for a duplicate.")
    shingle: ShingleKind = Field(default="word", description="word or char shingles.")
    shingle_size: int = Field(default=5, ge=1, description="Words (or characters) per shingle.")
    num_perm: int = Field(default=128, ge=16, le=1024, description="MinHash permutations.")
    confirm: Literal["estimate", "exact"] = Field(
        default="estimate", description="Confirm LSH candidates by estimated or exact Jaccard."
    )
    lowercase: bool = Field(default=True, description="Fold case before shingling.")
    strip_punctuation: bool = Field(default=True, description="Drop punctuation first.")
    seed: int = Field(default=1, description="MinHash seed (same seed, same signatures).")
    chunk_rows: int = Field(default=4096, ge=1, description="Rows shingled per batch.")
    workdir: str | None = Field(
        default=None, description="Where signatures are spilled; defaults to the temp dir."
    )

    def reads(self) -> list[str]:
        return list(self.columns)

    def token_set(self, record: Record) -> set[str]:
        text = normalize(
            text_of(record.data, self.columns),
            lowercase=self.lowercase,
            punctuation=self.strip_punctuation,
            whitespace=self.shingle == "char",  # word shingles split on any whitespace
        )
        return shingles(text, self.shingle, self.shingle_size)

    def process_all(self, records: Iterable[Record], ctx: StageContext) -> Iterator[Record]:
        if iter(records) is records:
            log.info("dedup.minhash: input is a one-shot iterator; holding it in memory")
            records = list(records)
        with tempfile.TemporaryDirectory(prefix="minhash-", dir=self.workdir) as tmp:
            removed = self.duplicates(records, Path(tmp) / "signatures.u32", ctx)
        yield from self._mark(records, removed)

    def duplicates(
        self, records: Iterable[Record], path: Path, ctx: StageContext
    ) -> dict[int, tuple[int, float]]:
        """Removed row index -> (kept row index, similarity)."""
        sigfile, valid = self._signatures(records, path)
        sigs = sigfile.open()
        bands, rows = mh.lsh_params(self.threshold, self.num_perm)
        pairs = mh.candidate_pairs(sigs, valid, bands, rows)
        ctx.count("candidate_pairs", len(pairs))
        sims = self._similarity(records, sigs, pairs)
        confirmed = pairs[sims >= self.threshold]
        ctx.count("confirmed_pairs", len(confirmed))
        mapping = mh.resolve(map(tuple, confirmed))
        removed = np.array(sorted(mapping), dtype=np.int64)
        kept = np.array([mapping[i] for i in removed.tolist()], dtype=np.int64)
        est = mh.estimated_jaccard(sigs, np.stack([kept, removed], axis=1).reshape(-1, 2))
        del sigs
        return {int(r): (int(k), float(s)) for r, k, s in zip(removed, kept, est, strict=True)}

    def _signatures(
        self, records: Iterable[Record], path: Path
    ) -> tuple[mh.SignatureFile, npt.NDArray[np.bool_]]:
        sigfile = mh.SignatureFile(path, self.num_perm)
        valid = bytearray()  # 1 byte a row: rows with no shingles never match
        batch: list[set[str]] = []
        with open(path, "wb") as fh:
            for record in records:
                tokens = self.token_set(record)
                valid.append(bool(tokens))
                batch.append(tokens)
                if len(batch) >= self.chunk_rows:
                    sigfile.append(mh.signatures(batch, self.num_perm, self.seed), fh)
                    batch = []
            if batch:
                sigfile.append(mh.signatures(batch, self.num_perm, self.seed), fh)
        return sigfile, np.frombuffer(bytes(valid), dtype=np.uint8).astype(bool)

    def _similarity(
        self, records: Iterable[Record], sigs: mh.U32, pairs: mh.I64
    ) -> npt.NDArray[np.float64]:
        if self.confirm == "estimate" or len(pairs) == 0:
            return mh.estimated_jaccard(sigs, pairs)
        wanted = set(np.unique(pairs).tolist())
        sets = {i: self.token_set(r) for i, r in enumerate(records) if i in wanted}
        return np.array([jaccard(sets[a], sets[b]) for a, b in pairs.tolist()])

    def _mark(
        self, records: Iterable[Record], removed: dict[int, tuple[int, float]]
    ) -> Iterator[Record]:
        reps = {k for k, _ in removed.values()}
        ids: dict[int, str] = {}
        for i, record in enumerate(records):
            if i in reps:
                ids[i] = record.meta.id
            if i not in removed:
                yield record
                continue
            kept, sim = removed[i]
            raw = {"duplicate_of": ids[kept], "similarity": round(sim, 4), "kept_index": kept}
            yield record.reject(self.label, "near duplicate", raw)
