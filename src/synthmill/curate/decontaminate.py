"""`decontaminate`: reject rows that overlap benchmark test items.

Benchmark texts are normalized (NFKC, case folded) into word tokens (\\w+); items
with at least `n` words are indexed by their n-grams (13 by default, as in GPT-3 and
Llama 2 contamination studies), shorter items by their whole token sequence, which must
then appear inside a row (items under `min_short_words` must equal the row exactly).
A long item matches only where the row shares a run of at least `min_words` consecutive
words with it (overlapping n-grams chained), so a stock idiom that happens to be 13 words
long does not count as contamination.

An optional semantic pass (`semantic:`, the `embed` extra) catches rephrased items, which
share no long n-gram, as in Yang et al. 2023 ("Rethinking Benchmark and Contamination for
Language Models with Rephrased Samples"): each row left by the n-gram pass is embedded with
all-MiniLM-L6-v2, its `top_k` nearest benchmark texts at cosine >= `threshold` are
candidates, and with `judge: true` an LLM judge must confirm that the row rephrases one.
Stats count each pass's rejects apart (`ngram`, `semantic`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from pydantic import Field, PrivateAttr

from synthmill.curate import embed
from synthmill.curate.benchmarks import Benchmark, Item, no_text
from synthmill.curate.decontaminate_semantic import SemanticIndex, SemanticPass, semantic_verdicts
from synthmill.curate.text import ngram_hash, ngrams, normalize, table_texts, text_of, words
from synthmill.errors import DataError, MissingExtraError
from synthmill.pipeline.columnar import (
    TableResult,
    TableVerdicts,
    split_verdicts,
    table_to_records,
)
from synthmill.pipeline.stage import Check, StageContext
from synthmill.records import Record, Verdict

ItemKey = tuple[str, str, str]  # benchmark, item, column
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]


@dataclass
class NgramIndex:
    """n-gram hashes of long items, whole-sequence hashes of short ones."""

    n: int
    long: dict[int, ItemKey] = field(default_factory=dict)
    short: dict[int, dict[int, ItemKey]] = field(default_factory=dict)  # length -> hash -> key
    exact: dict[int, ItemKey] = field(default_factory=dict)
    lengths: dict[ItemKey, int] = field(default_factory=dict)  # words of each long item
    items: int = 0
    sieve: Sieve = field(default_factory=lambda: Sieve())

    def add(self, item: Item, min_short_words: int) -> None:
        toks = words(normalize(item.text, punctuation=False))
        key = (item.benchmark, item.item, item.column)
        self.items += 1
        if len(toks) >= self.n:
            self.lengths[key] = max(self.lengths.get(key, 0), len(toks))
            for _, h in ngrams(toks, self.n):
                self.long.setdefault(h, key)
            self.sieve.add(toks, self.n)
        elif len(toks) >= min_short_words:
            self.short.setdefault(len(toks), {})[ngram_hash(toks)] = key
            self.sieve.add(toks, len(toks))
        elif toks:
            self.exact[ngram_hash(toks)] = key
            self.sieve.whole.add(len(toks))

    def matches(
        self, toks: list[str], min_matches: int, min_words: int = 0
    ) -> list[tuple[ItemKey, int, int]]:
        """(item, matched n-grams, first hit position) of every item the tokens overlap.

        Long items need `min_matches` shared n-grams and a run of shared words at least
        `min_words` long (or the whole item, when it is shorter); short and exact items one
        whole hit.
        """
        counts: Counter[ItemKey] = Counter()
        first: dict[ItemKey, int] = {}
        whole: set[ItemKey] = set()
        run = LongestRun(self.n)
        for length, table in [(self.n, self.long), *self.short.items()]:
            for pos, h in ngrams(toks, length):
                if (key := table.get(h)) is not None:
                    counts[key] += 1
                    first.setdefault(key, pos)
                    if table is not self.long:
                        whole.add(key)
                    else:
                        run.add(key, pos)
        if toks and (key := self.exact.get(ngram_hash(toks))) is not None:
            counts[key] += 1
            first.setdefault(key, 0)
            whole.add(key)
        return [
            (key, c, first[key])
            for key, c in counts.most_common()
            if key in whole
            or (c >= min_matches and run.words(key) >= min(min_words, self.lengths[key]))
        ]


@dataclass
class Sieve:
    """Which rows may overlap an item, decided for a whole table at once with numpy.

    Every indexed window (a long item's n-grams, a short item whole) is kept as a 64-bit
    polynomial hash of its tokens' hashes; a row none of whose windows is among them, and
    whose length no exact item has, cannot match (equal tokens give equal hashes). The
    rows that may go through NgramIndex.matches, as on the row path.
    """

    windows: dict[int, list[U64]] = field(default_factory=dict)  # window length -> hashes
    whole: set[int] = field(default_factory=set)  # token counts of the exact items
    _sorted: dict[int, U64] = field(default_factory=dict)

    def add(self, toks: list[str], size: int) -> None:
        rows = Windows([toks])
        self.windows.setdefault(size, []).append(rows.hashes(size)[1])
        self._sorted.pop(size, None)

    def candidates(self, rows: list[list[str]]) -> npt.NDArray[np.bool_]:
        """Whether each row (its tokens) may match an item."""
        counts = np.fromiter(map(len, rows), np.int64, len(rows))
        maybe = np.isin(counts, np.fromiter(self.whole, np.int64, len(self.whole)))
        table = Windows(rows, counts)
        for size in self.windows:
            index = self._sorted.get(size)
            if index is None:
                index = self._sorted[size] = np.unique(np.concatenate(self.windows[size]))
            row, hashes = table.hashes(size)
            at = np.searchsorted(index, hashes).clip(max=len(index) - 1)
            maybe[row[index[at] == hashes]] = True
        return maybe


_P = 0x9E3779B97F4A7C15  # odd, so invertible modulo 2**64
_P_INV = pow(_P, -1, 2**64)


class Windows:
    """Rows of tokens laid end to end, for hashes of every window of a given length:
    sum over the window of token_hash[j] * P^(end - j), modulo 2**64, from prefix sums."""

    def __init__(self, rows: list[list[str]], counts: I64 | None = None) -> None:
        if counts is None:
            counts = np.fromiter(map(len, rows), np.int64, len(rows))
        flat = [t for toks in rows for t in toks]
        n = len(flat)
        tokens = np.fromiter(map(hash, flat), np.int64, n).view(np.uint64)
        self.row = np.repeat(np.arange(len(rows), dtype=np.int64), counts)
        start = np.repeat(np.cumsum(counts) - counts, counts)
        self.left = np.repeat(counts, counts) - (np.arange(n, dtype=np.int64) - start)
        self.p = _powers(_P, n)
        inverse = _powers(_P_INV, n)
        self.prefix = np.concatenate((np.zeros(1, np.uint64), np.cumsum(tokens * inverse[:n])))

    def hashes(self, size: int) -> tuple[I64, U64]:
        """(row, hash) of every window of `size` tokens inside one row."""
        at = np.flatnonzero(self.left >= size)
        window = (self.prefix[at + size] - self.prefix[at]) * self.p[at + size - 1]
        return self.row[at], window


def _powers(base: int, n: int) -> U64:
    """base^0 .. base^n modulo 2**64."""
    steps = np.full(n + 1, base, dtype=np.uint64)
    steps[0] = 1
    return np.cumprod(steps, dtype=np.uint64)


@dataclass
class LongestRun:
    """Per item, the longest span of row words covered by consecutive matched n-grams."""

    n: int
    last: dict[ItemKey, int] = field(default_factory=dict)  # position of the latest hit
    start: dict[ItemKey, int] = field(default_factory=dict)  # where the current run began
    best: dict[ItemKey, int] = field(default_factory=dict)

    def add(self, key: ItemKey, pos: int) -> None:
        if self.last.get(key) != pos - 1:
            self.start[key] = pos
        self.last[key] = pos
        span = pos - self.start[key] + self.n
        self.best[key] = max(self.best.get(key, 0), span)

    def words(self, key: ItemKey) -> int:
        return self.best.get(key, 0)


class Decontaminate(Check):
    """Reject rows sharing an n-gram (or a whole short item) with a benchmark test set."""

    kind: ClassVar[str] = "decontaminate"
    columns: list[str] = Field(default=["text"], min_length=1, description="Columns checked.")
    benchmarks: list[Benchmark] = Field(
        default_factory=lambda: [Benchmark(name="humaneval")],
        description="Test sets: [{name: humaneval}] or [{name, path, columns, id_column}].",
    )
    n: int = Field(default=13, ge=1, description="n-gram length in words.")
    min_matches: int = Field(default=1, ge=1, description="Matched n-grams that reject a row.")
    min_words: int = Field(
        default=20,
        ge=1,
        description="Shortest run of consecutive shared words that counts as a match "
        "(items shorter than n match whole).",
    )
    min_short_words: int = Field(
        default=4, ge=1, description="Shorter items only match a row that equals them."
    )
    semantic: SemanticPass | None = Field(
        default=None,
        description="Optional pass for rephrased items (embed extra): "
        "{threshold: 0.75, top_k: 1, judge: false, backend}.",
    )
    _index: NgramIndex | None = PrivateAttr(default=None)
    _semantic: SemanticIndex | None = PrivateAttr(default=None)

    def reads(self) -> list[str]:
        return list(self.columns)

    def input_files(self) -> list[Path]:
        """Benchmark files: run.json fingerprints them, so a resume sees a changed test set."""
        return [Path(b.path) for b in self.benchmarks if b.path is not None]

    def index(self) -> NgramIndex:
        """The n-gram index, built on first use (and rebuilt after unpickling)."""
        if self._index is None:
            index = NgramIndex(self.n)
            for bench in self.benchmarks:
                before = index.items
                for item in bench.items():
                    index.add(item, self.min_short_words)
                if index.items == before:
                    raise DataError(no_text(bench))
            self._index = index
        return self._index

    def preflight(self) -> None:
        """The semantic pass needs the embed extra; say so before the run writes anything."""
        if self.semantic is not None:
            embed.model_dir()  # MissingExtraError naming the extra
            if not embed.available():
                raise MissingExtraError("sentence-transformers", "embed")

    def semantic_index(self, opts: SemanticPass) -> SemanticIndex:
        """Embeddings of every benchmark text, built on first use."""
        if self._semantic is None:
            items = [item for bench in self.benchmarks for item in bench.items()]
            self._semantic = SemanticIndex.build(items, opts.embed_batch)
        return self._semantic

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        """The n-gram pass on every row, then the semantic pass on the rows it let through."""
        verdicts = self.check_batch(batch)
        ctx.count("ngram", sum(not v.ok for v in verdicts))
        if self.semantic is not None:
            todo = [i for i, v in enumerate(verdicts) if v.ok]
            rows = [batch[i] for i in todo]
            texts = [text_of(r.data, self.columns) for r in rows]
            index = self.semantic_index(self.semantic)
            found = semantic_verdicts(self.semantic, index, rows, texts, ctx)
            ctx.count("semantic", sum(not v.ok for v in found))
            for i, verdict in zip(todo, found, strict=True):
                verdicts[i] = verdict
        out = []
        for record, verdict in zip(batch, verdicts, strict=True):
            record = record.with_verdict(self.label, verdict)
            out.append(
                record if verdict.ok else record.reject(self.label, verdict.reason, verdict.raw)
            )
        return out

    def process_table(self, table: pa.Table, ctx: StageContext) -> TableResult:
        """process() on a whole table: the n-gram pass sieves the rows with numpy and
        checks only those that may match as check() does; the semantic pass then takes
        the rows left, in the batches process() would have seen."""
        if table.num_rows == 0:  # the row path has no batch to count
            return split_verdicts(table, self.label, TableVerdicts(np.zeros(0, bool), []))
        verdicts: list[Verdict] = []
        for texts in table_texts(table, self.columns):
            # whitespace is never part of a \w+ word: collapsing it first changes no token
            rows = [words(normalize(t, punctuation=False, whitespace=False)) for t in texts]
            found = [CLEAN] * len(rows)
            for i in np.flatnonzero(self.index().sieve.candidates(rows)).tolist():
                found[i] = self.verdict(rows[i])
            verdicts += found
        ctx.count("ngram", sum(not v.ok for v in verdicts))
        if self.semantic is not None:
            self._semantic_table(table, verdicts, ctx)
        return split_verdicts(
            table,
            self.label,
            TableVerdicts(
                np.array([v.ok for v in verdicts], dtype=bool),
                [v.reason for v in verdicts],
                [v.score for v in verdicts],
                [v.raw for v in verdicts],
            ),
        )

    def _semantic_table(self, table: pa.Table, verdicts: list[Verdict], ctx: StageContext) -> None:
        """The semantic pass over each batch_size rows' survivors, as process() runs it."""
        assert self.semantic is not None
        index = self.semantic_index(self.semantic)
        semantic = 0
        for start in range(0, len(verdicts), self.batch_size):
            todo = [i for i in range(start, min(start + self.batch_size, len(verdicts)))]
            todo = [i for i in todo if verdicts[i].ok]
            records = table_to_records(table.take(pa.array(todo, pa.int64())))
            texts = [text_of(r.data, self.columns) for r in records]
            found = semantic_verdicts(self.semantic, index, records, texts, ctx)
            semantic += sum(not v.ok for v in found)
            for i, verdict in zip(todo, found, strict=True):
                verdicts[i] = verdict
        ctx.count("semantic", semantic)

    def check(self, record: Record) -> Verdict:
        return self.verdict(words(normalize(text_of(record.data, self.columns), punctuation=False)))

    def verdict(self, toks: list[str]) -> Verdict:
        """The n-gram pass's verdict on a row's normalized word tokens."""
        hits = self.index().matches(toks, self.min_matches, self.min_words)
        if not hits:
            return Verdict(True, score=0.0)
        (bench, item, column), count, pos = hits[0]
        raw = {
            "pass": "ngram",
            "benchmark": bench,
            "item": item,
            "column": column,
            "matched_ngrams": count,
            "match": " ".join(toks[pos : pos + self.n]),
            "items_matched": len(hits),
        }
        return Verdict(False, f"overlaps {bench}", float(count), raw=raw)

    def __getstate__(self) -> dict[Any, Any]:  # the index holds hash() values: per process
        state = super().__getstate__()
        state["__pydantic_private__"] = {"_index": None, "_semantic": None}
        return state


CLEAN = Verdict(True, score=0.0)
