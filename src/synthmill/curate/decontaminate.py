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

from pydantic import Field, PrivateAttr

from synthmill.curate import embed
from synthmill.curate.benchmarks import Benchmark, Item, no_text
from synthmill.curate.decontaminate_semantic import SemanticIndex, SemanticPass, semantic_verdicts
from synthmill.curate.text import ngram_hash, ngrams, normalize, text_of, words
from synthmill.errors import DataError, MissingExtraError
from synthmill.pipeline.stage import Check, StageContext
from synthmill.records import Record, Verdict

ItemKey = tuple[str, str, str]  # benchmark, item, column


@dataclass
class NgramIndex:
    """n-gram hashes of long items, whole-sequence hashes of short ones."""

    n: int
    long: dict[int, ItemKey] = field(default_factory=dict)
    short: dict[int, dict[int, ItemKey]] = field(default_factory=dict)  # length -> hash -> key
    exact: dict[int, ItemKey] = field(default_factory=dict)
    lengths: dict[ItemKey, int] = field(default_factory=dict)  # words of each long item
    items: int = 0

    def add(self, item: Item, min_short_words: int) -> None:
        toks = words(normalize(item.text, punctuation=False))
        key = (item.benchmark, item.item, item.column)
        self.items += 1
        if len(toks) >= self.n:
            self.lengths[key] = max(self.lengths.get(key, 0), len(toks))
            for _, h in ngrams(toks, self.n):
                self.long.setdefault(h, key)
        elif len(toks) >= min_short_words:
            self.short.setdefault(len(toks), {})[ngram_hash(toks)] = key
        elif toks:
            self.exact[ngram_hash(toks)] = key

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

    def check(self, record: Record) -> Verdict:
        toks = words(normalize(text_of(record.data, self.columns), punctuation=False))
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

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        state["__pydantic_private__"] = {"_index": None, "_semantic": None}
        return state
