"""`rejection_sampling`: sample k solutions per problem, keep the verified ones.

For each problem row the backend writes k solutions (distinct seeds). Math solutions
are checked against the gold answer (verify.math's checker), code against the hidden
tests in the sandbox (verify.code's runner). Every correct sample becomes a (problem,
solution) training pair; a problem with none is rejected with its samples in the raw
payload. Rows without a gold answer use self-consistency instead: the majority answer
(equivalent forms vote together) is kept with its agreement ratio.

pass@k uses the unbiased estimator 1 - C(n-c, k) / C(n, k) (Chen et al. 2021). The
stage counts, per family and difficulty, how many problems had c correct of n; that
histogram (in stats.json) gives pass@k for every k <= n: see `passk_report`.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from synthmill.llm.base import Request
from synthmill.llm.structured import Structured
from synthmill.pipeline.stage import StageContext
from synthmill.problems.base import fmt
from synthmill.recipes.base import LLMRecipe, json_schema
from synthmill.records import Record
from synthmill.verify.code_check import run_solution
from synthmill.verify.equivalence import check_solution
from synthmill.verify.extract import extract_answer
from synthmill.verify.numbers import parse_number, split_list
from synthmill.verify.sandbox import Limits, require_sandbox

RECIPE = "rejection_sampling"
HIST = "pass_hist"  # counter prefix: pass_hist/<family>/d<difficulty>/<c>of<n>
MATH_INSTRUCTION = (
    "Solve the problem. Reply as JSON: 'solution' holds your short step-by-step work, "
    "'answer' only the final answer."
)
CODE_INSTRUCTION = "Reply as JSON: 'code' holds the whole Python function."


class MathReply(BaseModel):
    solution: str
    answer: str


class CodeReply(BaseModel):
    code: str


@dataclass(frozen=True)
class Sample:
    """One sampled solution: the training text, the answer it states, and its verdict."""

    text: str
    answer: str | None
    verdict: str  # "correct", or a short reason such as "wrong" or "timeout"
    result: Structured[Any]

    @property
    def ok(self) -> bool:
        return self.verdict == "correct"


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with c correct of n samples (needs k <= n)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def vote_key(answer: str) -> str:
    """A key under which equivalent plain answers (0.5, 1/2, 2/4) vote together."""
    value = parse_number(answer)
    if value is not None:
        return fmt(value)
    items = split_list(answer)
    if items is not None:
        values = [parse_number(x) for x in items[0]]
        if None not in values:
            keys = [fmt(v) for v in values if v is not None]
            return ("(%s)" if items[1] else "{%s}") % ", ".join(keys if items[1] else sorted(keys))
    return " ".join(answer.lower().split())


def majority(answers: list[str | None]) -> tuple[str | None, float]:
    """The most common answer (first seen wins ties) and its share of all samples."""
    stated = [(vote_key(a), a) for a in answers if a]
    if not stated:
        return None, 0.0
    counts = Counter(key for key, _ in stated)
    best = max(counts, key=lambda key: counts[key])  # max keeps the first of equal counts
    first = next(a for key, a in stated if key == best)
    return first, counts[best] / len(answers)


class RejectionSampling(LLMRecipe):
    """Sample k solutions per problem; keep verified ones and count pass@k."""

    kind: ClassVar[str] = "rejection_sampling"
    k: int = Field(default=4, ge=1, description="Solutions sampled per problem.")
    temperature: float = Field(default=0.8, ge=0.0, le=2.0, description="Sampling temperature.")
    max_tokens: int = Field(default=320, ge=48, description="Tokens per solution.")
    retries: int = Field(default=1, ge=0, description="Retries of a reply that is not JSON.")
    batch_size: int = Field(default=4, ge=1, description="Problems handed to process() at once.")
    problem_column: str = Field(default="problem", description="Column with the question.")
    answer_column: str = Field(default="answer", description="Gold answer; empty -> vote.")
    min_agreement: float = Field(
        default=0.5, ge=0, le=1, description="Self-consistency: least majority share kept."
    )
    math_timeout: float = Field(default=5.0, gt=0, description="Seconds per symbolic check.")
    code_wall_seconds: float = Field(default=10.0, gt=0, description="Wall limit per code run.")
    unsafe_no_sandbox: bool = Field(
        default=False, description="Run sampled code WITHOUT bubblewrap. Only for trusted code."
    )

    def reads(self) -> list[str]:
        """The problem; the gold answer only when not the default (none: majority vote)."""
        named = self.answer_column != "answer"
        return [self.problem_column, *([self.answer_column] if named else [])]

    def writes(self) -> list[str]:
        return ["solution", "sample", "answer", "agreement", "n_correct", "n_samples"]

    def summarize(self, stats: dict[str, Any]) -> dict[str, Any] | None:
        """pass@k per family/difficulty, per family and overall, for the card and inspect."""
        return passk_from_counters(stats["counters"]) or None

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        out: list[Record] = []
        requests = [self._request(r, j, ctx) for r in batch for j in range(self.k)]
        results = self._ask_all(batch, requests, ctx)
        for i, record in enumerate(batch):
            samples = [self._judge(record, res) for res in results[i * self.k : (i + 1) * self.k]]
            out.extend(self._emit(record, samples, ctx))
        return out

    # ---- asking ----------------------------------------------------------------------------
    def _is_code(self, record: Record) -> bool:
        return record.data.get("kind") == "code"

    def _request(self, record: Record, j: int, ctx: StageContext) -> Request:
        question = str(record.data.get(self.problem_column) or "")
        code = self._is_code(record)
        system = CODE_INSTRUCTION if code else MATH_INSTRUCTION
        # caps in characters that fit max_tokens, so a small model's JSON always closes
        chars = 3 * self.max_tokens
        fields = {"code": chars} if code else {"solution": chars - 120, "answer": 60}
        messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
        return self.chat(messages, ctx, (record.meta.id, j), json_schema(fields))

    def _ask_all(
        self, batch: list[Record], requests: list[Request], ctx: StageContext
    ) -> list[Structured[Any]]:
        """Ask math and code requests with their own reply models, keeping the order."""
        is_code = [self._is_code(r) for r in batch for _ in range(self.k)]
        code = iter(
            self.ask([q for q, c in zip(requests, is_code, strict=True) if c], CodeReply, ctx)
        )
        math_ = iter(
            self.ask([q for q, c in zip(requests, is_code, strict=True) if not c], MathReply, ctx)
        )
        return [next(code) if c else next(math_) for c in is_code]

    # ---- judging ---------------------------------------------------------------------------
    def _judge(self, record: Record, result: Structured[Any]) -> Sample:
        value = result.value
        if value is None:
            return Sample(result.raw, None, result.reason or "failed", result)
        if isinstance(value, CodeReply):
            text = f"```python\n{value.code.strip()}\n```"
            return Sample(text, None, self._run_code(record, text), result)
        text = f"{value.solution.strip()}\n\nAnswer: {value.answer.strip()}"
        gold = str(record.data.get(self.answer_column) or "").strip()
        stated = extract_answer(text)
        if not gold:
            return Sample(text, stated, "unchecked", result)
        problem = str(record.data.get(self.problem_column) or "")
        verdict = check_solution(gold, text, timeout=self.math_timeout, problem=problem)
        return Sample(text, verdict.answer, "correct" if verdict.ok else verdict.outcome, result)

    def _run_code(self, record: Record, text: str) -> str:
        tests = str(record.data.get("tests") or "")
        entry = str(record.data.get("entry_point") or "")
        run = run_solution(
            text,
            tests,
            entry,
            limits=Limits(wall_seconds=self.code_wall_seconds),
            sandbox=require_sandbox(self.unsafe_no_sandbox),
            prefix=str(record.data.get("prompt") or ""),
        )
        return "correct" if run.ok else run.status

    # ---- emitting --------------------------------------------------------------------------
    def _emit(self, record: Record, samples: list[Sample], ctx: StageContext) -> list[Record]:
        checked = bool(str(record.data.get(self.answer_column) or "").strip())
        if not checked and not self._is_code(record):
            return [self._vote(record, samples, ctx)]
        correct = sum(s.ok for s in samples)
        group = _group(record)
        ctx.count(f"{HIST}/{group}/{correct}of{self.k}")
        ctx.count("samples", self.k)
        ctx.count("samples.correct", correct)
        scores = {"pass@1": pass_at_k(self.k, correct, 1), f"pass@{self.k}": float(correct > 0)}
        pairs = [
            self._pair(record, s, j, {"n_correct": correct, "n_samples": self.k}, scores)
            for j, s in enumerate(samples)
            if s.ok
        ]
        if pairs:
            return pairs
        raw = {"samples": [{"text": s.text[:600], "verdict": s.verdict} for s in samples]}
        # a sample lost to a failed call is not evidence: the next run asks again
        transient = any(s.result.transient for s in samples)
        return [record.reject(self.label, "no correct sample", raw, transient=transient)]

    def _vote(self, record: Record, samples: list[Sample], ctx: StageContext) -> Record:
        ctx.count("self_consistency.problems")
        answer, share = majority([s.answer for s in samples])
        if answer is None or share < self.min_agreement:
            raw = {"answers": [s.answer for s in samples], "agreement": share}
            transient = any(s.result.transient for s in samples)
            return record.reject(self.label, "no majority", raw, transient=transient)
        ctx.count("self_consistency.kept")
        key = vote_key(answer)
        j, chosen = next(
            (j, s) for j, s in enumerate(samples) if s.answer and vote_key(s.answer) == key
        )
        extra = {"answer": answer, "agreement": share}
        return self._pair(record, chosen, j, extra, {"agreement": share})

    def _pair(
        self,
        record: Record,
        sample: Sample,
        j: int,
        extra: dict[str, Any],
        scores: dict[str, float],
    ) -> Record:
        data = {**record.data, "solution": sample.text, "sample": j, **extra}
        meta = sample.result.provenance()
        return Record.new(
            data, key=(record.meta.id, j), stage=self.label, parents=(record.meta.id,),
            recipe=RECIPE, scores=scores, **meta,
        )  # fmt: skip


def _group(record: Record) -> str:
    family = str(record.data.get("family") or "unknown")
    difficulty = record.data.get("difficulty")
    return f"{family}/d{difficulty if difficulty is not None else '?'}"


def passk_report(stats: Mapping[str, Any] | str | Path, stage: str = RECIPE) -> dict[str, Any]:
    """pass@k per family/difficulty, per family and overall, from a run's stats.json.

    `stats` is the parsed stats.json, its path, or the run directory.
    """
    if isinstance(stats, Mapping):
        parsed: Mapping[str, Any] = stats
    else:
        path = Path(stats)
        parsed = json.loads((path / "stats.json" if path.is_dir() else path).read_text())
    return passk_from_counters(parsed["stages"][stage]["counters"])


def passk_from_counters(counters: Mapping[str, int]) -> dict[str, Any]:
    """pass@k from the stage's histogram counters `HIST/family/dN/CofN`."""
    hist: dict[str, list[tuple[int, int, int]]] = {}
    for name, count in counters.items():
        if name.startswith(HIST + "/"):
            _, family, level, frac = name.split("/")
            c, n = (int(x) for x in frac.split("of"))
            for group in (f"{family}/{level}", family, "all"):
                hist.setdefault(group, []).append((c, n, int(count)))
    return {group: _summarize(rows) for group, rows in sorted(hist.items())}


def _summarize(rows: list[tuple[int, int, int]]) -> dict[str, Any]:
    n = min(r[1] for r in rows)
    problems = sum(r[2] for r in rows)
    out: dict[str, Any] = {"problems": problems, "samples_per_problem": n}
    for k in sorted({1, n}):
        total = sum(Fraction(pass_at_k(rn, c, k)) * count for c, rn, count in rows)
        out[f"pass@{k}"] = round(float(total / problems), 4)
    return out
