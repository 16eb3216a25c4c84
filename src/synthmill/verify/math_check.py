"""`verify.math`: keep rows whose solution's final answer equals the gold answer."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from synthmill.pipeline.stage import Check
from synthmill.records import Record, Verdict
from synthmill.verify.equivalence import MathResult, MathTask, check_many


class MathCheck(Check):
    """Keep rows whose final answer equals the gold. Rejects: wrong, no answer, timeout, error."""

    kind: ClassVar[str] = "verify.math"
    solution_column: str = Field(default="solution", description="Column with the solution.")
    answer_column: str = Field(default="answer", description="Column with the gold answer.")
    problem_column: str = Field(
        default="problem",
        description="Column with the question, when present: a question that asks for a "
        "percent lets 25 and 25% match.",
    )
    timeout: float = Field(default=5.0, gt=0, description="Seconds per symbolic comparison.")
    workers: int | None = Field(
        default=None, ge=1, description="math-verify worker processes; default one per core."
    )
    symbolic: bool = Field(
        default=True, description="Use math-verify when the fast exact path cannot decide."
    )

    def reads(self) -> list[str]:
        """Solution and gold; the problem (optional) only when not the default column."""
        problem = [] if self.problem_column == "problem" else [self.problem_column]
        return [self.solution_column, self.answer_column, *problem]

    def check(self, record: Record) -> Verdict:
        return self.check_batch([record])[0]

    def check_batch(self, records: list[Record]) -> list[Verdict]:
        """Exact paths in-process; symbolic comparisons of the batch on every core at once."""
        tasks = [self._task(r) for r in records]
        todo = [t for t in tasks if t is not None]
        results = iter(
            check_many(todo, timeout=self.timeout, symbolic=self.symbolic, workers=self.workers)
        )
        return [
            _verdict(next(results)) if t else Verdict(False, "no gold answer", raw={})
            for t in tasks
        ]

    def _task(self, record: Record) -> MathTask | None:
        gold = str(record.data.get(self.answer_column) or "").strip()
        if not gold:
            return None
        solution = str(record.data.get(self.solution_column) or "")
        return MathTask(gold, solution, str(record.data.get(self.problem_column) or ""))


def _verdict(result: MathResult) -> Verdict:
    raw = {"answer": result.answer, "method": result.method, "detail": result.detail}
    reason = "" if result.ok else result.outcome
    return Verdict(result.ok, reason, 1.0 if result.ok else 0.0, raw=raw)
