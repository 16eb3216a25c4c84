"""Decide whether a model's answer equals the gold answer.

Plain numbers, fractions, percents and lists of them are compared exactly in-process;
everything else goes to math-verify (gold first, higher precision) in a worker process
with a hard timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from synthmill.verify.extract import extract_answer
from synthmill.verify.mathworker import worker
from synthmill.verify.numbers import fast_equivalent, split_list

Outcome = Literal["correct", "wrong", "no answer", "timeout", "error"]


@dataclass(frozen=True)
class MathResult:
    """The outcome, the answer that was compared, and which path decided."""

    outcome: Outcome
    answer: str | None = None
    method: Literal["exact", "symbolic", "none"] = "none"
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "correct"


def equivalent(
    gold: str, answer: str, *, timeout: float = 5.0, symbolic: bool = True
) -> MathResult:
    """Compare an extracted answer with the gold answer."""
    answer = answer.strip()
    if not answer:
        return MathResult("no answer", answer)
    fast = fast_equivalent(gold, answer)
    if fast is not None:
        return MathResult("correct" if fast else "wrong", answer, "exact")
    if not symbolic:
        return MathResult("wrong", answer, "none", "not a plain number; symbolic check is off")
    status, value = worker().check(gold, answer, timeout)
    if status == "timeout":
        return MathResult("timeout", answer, "symbolic", f"no decision within {timeout}s")
    if status == "error":
        return MathResult("error", answer, "symbolic", str(value))
    return MathResult("correct" if value else "wrong", answer, "symbolic")


def check_solution(
    gold: str, solution: str, *, timeout: float = 5.0, symbolic: bool = True
) -> MathResult:
    """Extract the final answer from a whole solution text, then compare it."""
    items = split_list(gold)
    answer = extract_answer(solution, count=len(items[0]) if items else 1)
    if answer is None:
        return MathResult("no answer")
    return equivalent(gold, answer, timeout=timeout, symbolic=symbolic)
