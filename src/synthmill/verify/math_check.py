"""`verify.math`: keep rows whose solution's final answer equals the gold answer."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from synthmill.pipeline.stage import Check
from synthmill.records import Record, Verdict
from synthmill.verify.equivalence import check_solution


class MathCheck(Check):
    """Keep rows whose final answer equals the gold. Rejects: wrong, no answer, timeout, error."""

    kind: ClassVar[str] = "verify.math"
    solution_column: str = Field(default="solution", description="Column with the solution.")
    answer_column: str = Field(default="answer", description="Column with the gold answer.")
    timeout: float = Field(default=5.0, gt=0, description="Seconds per symbolic comparison.")
    symbolic: bool = Field(
        default=True, description="Use math-verify when the fast exact path cannot decide."
    )

    def check(self, record: Record) -> Verdict:
        gold = str(record.data.get(self.answer_column) or "").strip()
        if not gold:
            return Verdict(False, "no gold answer", raw={})
        solution = str(record.data.get(self.solution_column) or "")
        result = check_solution(gold, solution, timeout=self.timeout, symbolic=self.symbolic)
        raw = {"answer": result.answer, "method": result.method, "detail": result.detail}
        reason = "" if result.ok else result.outcome
        return Verdict(result.ok, reason, 1.0 if result.ok else 0.0, raw=raw)
