"""The semantic pass of `decontaminate`: rephrased benchmark items (Yang et al. 2023).

Benchmark texts and rows are embedded with all-MiniLM-L6-v2 (the `embed` extra, offline);
a row's `top_k` nearest items at cosine >= `threshold` are candidates. Without a judge the
nearest candidate rejects the row; with `judge: true` an LLM is asked, per candidate,
whether the row is a rephrasing of the item, and only a "yes" rejects it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from synthmill.curate import embed
from synthmill.curate.benchmarks import Item
from synthmill.llm.base import Request
from synthmill.llm.registry import BackendField, backend_option
from synthmill.llm.structured import Structured, complete_structured
from synthmill.pipeline.stage import StageContext
from synthmill.records import Record, Verdict

# After the LLM decontaminator prompt of Yang et al. 2023, shortened for small models.
JUDGE_PROMPT = (
    "You compare a TEXT with a TEST ITEM from a benchmark. Answer whether the TEXT is a "
    "rephrasing of the TEST ITEM: the same task or question, possibly reworded, with other "
    "names, in another language or format. A different task on a similar topic is not a "
    'rephrasing. Reply with a JSON object: {"reason": "...", "rephrased": true|false}.'
)


class RephraseVerdict(BaseModel):
    """The judge's structured reply."""

    reason: str = Field(max_length=300, description="One short sentence, said first.")
    rephrased: bool = Field(description="Whether the text rephrases the test item.")


class SemanticPass(BaseModel):
    """Options of the semantic pass: `semantic: {threshold: 0.75, top_k: 1, judge: false}`."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    threshold: float = Field(default=0.75, gt=0, le=1, description="Cosine of a candidate.")
    top_k: int = Field(default=1, ge=1, description="Nearest items per row that are candidates.")
    judge: bool = Field(default=False, description="An LLM must confirm each candidate.")
    backend: BackendField = backend_option("Judge model; default: the pipeline's, else embedded.")
    max_chars: int = Field(default=2000, ge=100, description="Chars of each text shown.")
    max_tokens: int = Field(default=128, ge=16, description="Judge reply token budget.")
    retries: int = Field(default=1, ge=0, description="Retries of an invalid judge reply.")
    embed_batch: int = Field(default=64, ge=1, description="Texts embedded per model call.")


@dataclass
class Candidate:
    """A benchmark text near a row."""

    row: int
    item: Item
    similarity: float

    def raw(self) -> dict[str, Any]:
        return {
            "pass": "semantic",
            "benchmark": self.item.benchmark,
            "item": self.item.item,
            "column": self.item.column,
            "similarity": round(self.similarity, 4),
        }


@dataclass
class SemanticIndex:
    """Unit embeddings of every benchmark text."""

    items: list[Item]
    vectors: embed.F32

    @classmethod
    def build(cls, items: list[Item], batch: int) -> SemanticIndex:
        return cls(items, embed.embed([i.text for i in items], batch))

    def candidates(self, rows: embed.F32, threshold: float, top_k: int) -> list[list[Candidate]]:
        """Per row, its `top_k` nearest items at cosine >= threshold, nearest first."""
        sims = rows @ self.vectors.T
        out: list[list[Candidate]] = []
        for r, row in enumerate(sims):
            order = np.argsort(-row, kind="stable")[:top_k]
            near = [Candidate(r, self.items[j], float(row[j])) for j in order]
            out.append([c for c in near if c.similarity >= threshold])
        return out


def semantic_verdicts(
    opts: SemanticPass,
    index: SemanticIndex,
    records: Sequence[Record],
    texts: list[str],
    ctx: StageContext,
) -> list[Verdict]:
    """The semantic verdict of each record (rows already cleared by the n-gram pass)."""
    found = index.candidates(embed.embed(texts, opts.embed_batch), opts.threshold, opts.top_k)
    ctx.count("semantic_candidates", sum(1 for c in found if c))
    if not opts.judge:
        return [_reject(c[0], None) if c else Verdict(True, score=0.0) for c in found]
    return _judged(opts, records, texts, found, ctx)


def _judged(
    opts: SemanticPass,
    records: Sequence[Record],
    texts: list[str],
    found: list[list[Candidate]],
    ctx: StageContext,
) -> list[Verdict]:
    """Ask the judge about every candidate; a row falls on its first confirmed one."""
    pairs = [c for near in found for c in near]
    requests = [_request(opts, texts[c.row], c, ctx, records[c.row]) for c in pairs]
    results = complete_structured(opts.backend, requests, RephraseVerdict, ctx, opts.retries)
    verdicts = [Verdict(True, score=0.0) for _ in records]
    decided: set[int] = set()
    for cand, result in zip(pairs, results, strict=True):
        if cand.row in decided:
            continue
        if result.value is None:  # unknown is not clean: reject, transient ones retried
            raw = {**cand.raw(), **result.rejection()}
            verdicts[cand.row] = Verdict(False, "semantic judge failed", raw=raw)
            decided.add(cand.row)
        elif result.value.rephrased:
            verdicts[cand.row] = _reject(cand, result)
            decided.add(cand.row)
        else:
            ctx.count("judge_cleared")
    return verdicts


def _reject(cand: Candidate, result: Structured[RephraseVerdict] | None) -> Verdict:
    raw = cand.raw()
    if result is not None and result.value is not None:
        raw["judge_reason"] = result.value.reason
    reason = f"semantic match with {cand.item.benchmark}"
    return Verdict(False, reason, round(cand.similarity, 4), raw=raw)


def _request(
    opts: SemanticPass, text: str, cand: Candidate, ctx: StageContext, record: Record
) -> Request:
    item = cand.item
    user = (
        f"TEST ITEM ({item.benchmark} {item.item}):\n{item.text[: opts.max_chars]}\n\n"
        f"TEXT:\n{text[: opts.max_chars]}"
    )
    return Request(
        messages=({"role": "system", "content": JUDGE_PROMPT}, {"role": "user", "content": user}),
        max_tokens=opts.max_tokens,
        temperature=0.0,
        seed=ctx.rng(record.meta.id, item.benchmark, item.item, item.column).randrange(2**31),
    )
