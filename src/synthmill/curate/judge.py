"""`score.judge`: an LLM judge scores each row 1-5 against a rubric, with structured output.

The reply is constrained to {"score": 1..5, "reason": "..."}; a reply that still fails to
parse is retried with the error, then rejected with the raw output. Scores land in the
row's provenance (meta.scores); `min_score` optionally rejects low-scoring rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import BaseModel, Field

from synthmill.curate.text import text_of
from synthmill.llm.base import Backend, Request
from synthmill.llm.registry import BackendField, backend_option
from synthmill.llm.structured import Structured, complete_structured
from synthmill.pipeline.stage import Stage, StageContext
from synthmill.records import Record, Verdict

# The FineWeb-Edu annotation idea (Penedo et al. 2024), shortened for small models.
DEFAULT_RUBRIC = (
    "Rate how useful the text is for teaching, on a scale from 1 to 5.\n"
    "1: no educational value (ads, spam, gibberish, navigation text).\n"
    "2: a little information, mixed with noise or unrelated content.\n"
    "3: correct and coherent basic information on a topic.\n"
    "4: clear, well organized, and teaches a concept step by step.\n"
    "5: excellent teaching material: accurate, deep, with examples."
)


class JudgeScore(BaseModel):
    """The judge's structured reply."""

    score: int = Field(ge=1, le=5, description="1 (worst) to 5 (best).")
    reason: str = Field(max_length=300, description="One short sentence.")


def judge_requests(
    texts: Sequence[str], seeds: Sequence[int], rubric: str, max_chars: int, max_tokens: int
) -> list[Request]:
    """One request per text: the rubric as system prompt, the (truncated) text as user turn."""
    system = f'{rubric}\nReply with a JSON object: {{"score": 1-5, "reason": "..."}}.'
    return [
        Request(
            messages=(
                {"role": "system", "content": system},
                {"role": "user", "content": f"Text:\n{text[:max_chars]}"},
            ),
            max_tokens=max_tokens,
            temperature=0.0,
            seed=seed,
        )
        for text, seed in zip(texts, seeds, strict=True)
    ]


class Judge(Stage):
    """Score rows 1-5 with an LLM judge; optionally reject rows below `min_score`."""

    kind: ClassVar[str] = "score.judge"
    backend: BackendField = backend_option()
    columns: list[str] = Field(default=["text"], min_length=1, description="Columns judged.")
    rubric: str = Field(default=DEFAULT_RUBRIC, description="What the 1-5 scale means.")
    min_score: int | None = Field(default=None, ge=1, le=5, description="Reject below this.")
    max_chars: int = Field(default=2000, ge=100, description="Text shown to the judge.")
    max_tokens: int = Field(default=128, ge=16, description="Reply token budget.")
    retries: int = Field(default=1, ge=0, description="Retries of an invalid reply.")
    batch_size: int = Field(default=8, ge=1, description="Rows judged per batch.")

    def reads(self) -> list[str]:
        return list(self.columns)

    def judge(self, records: Sequence[Record], ctx: StageContext) -> list[Structured[JudgeScore]]:
        """The judge's outcome for each record (a value, or why it failed)."""
        return score_texts(self.backend, records, ctx, self)

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        out = []
        for record, result in zip(batch, self.judge(batch, ctx), strict=True):
            out.append(self._apply(record, result))
        return out

    def _apply(self, record: Record, result: Structured[JudgeScore]) -> Record:
        if result.value is None:
            return record.reject(self.label, result.reason or "judge failed", result.rejection())
        score = result.value.score
        ok = self.min_score is None or score >= self.min_score
        record = record.with_verdict(
            self.label, Verdict(ok, "" if ok else "low judge score", score)
        )
        if ok:
            return record
        raw = {"score": score, "reason": result.value.reason, "min_score": self.min_score}
        return record.reject(self.label, "low judge score", raw)


def score_texts(
    backend: Backend, records: Sequence[Record], ctx: StageContext, judge: Judge
) -> list[Structured[JudgeScore]]:
    """Ask the judge about each record; seeds come from (run seed, stage, record id)."""
    texts = [text_of(r.data, judge.columns) for r in records]
    seeds = [ctx.rng(r.meta.id).randrange(2**31) for r in records]
    requests = judge_requests(texts, seeds, judge.rubric, judge.max_chars, judge.max_tokens)
    return complete_structured(backend, requests, JudgeScore, ctx, retries=judge.retries)
