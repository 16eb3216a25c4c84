"""Decide whether a model's answer equals the gold answer, assuming the model games it.

Plain numbers, fractions, mixed numbers, percents, units and lists of them are compared
exactly in-process; an identical text is equal; answers that hedge ("13 or 14", two
different boxed answers, "\\pm 13") or cannot be evaluated in time are wrong; everything
else goes to math-verify (gold first, higher precision) in a pool of worker processes
with a hard timeout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from synthmill.verify.extract import all_boxed, extract_answer
from synthmill.verify.mathworker import pool
from synthmill.verify.numbers import (
    NOT_UNITS,
    asks_percent,
    fast_equivalent,
    item_count,
    split_list,
    top_level_split,
)

Outcome = Literal["correct", "wrong", "no answer", "timeout", "error"]
MAX_ANSWER_CHARS = 1000
_HUGE = re.compile(r"\^\s*\{?\s*[-+]?\d{5,}|\^\s*\{[^{}]*\^|\d{4,}\s*!")
_HEDGE = re.compile(r"\\(?:pm|mp)\b|±|∓")
_RELATION = re.compile(
    r"\\(?:approx|neq|ne|le|ge|leq|geq|lt|gt|sim|simeq)\b|[<>≈≠≤≥?]|^\s*~"  # ~ inside: a space
    r"|[\d)}]\s*[\u2013\u2014]\s*[\d(\\]"  # a range such as 13 (en dash) 14
)
_TEXT = re.compile(r"\\(?:text|mathrm|textrm|mbox)\s*\{([^{}]*)\}")
_HEDGE_WORDS = NOT_UNITS - {"to", "plus", "minus", "times", "and"}  # "equal to 13" is fine
_NAME = re.compile(r"^\s*[a-zA-Z](?:_\{?\w+\}?)?(?:\([a-z]\))?\s*$")  # x, y_1, f(x)


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


@dataclass(frozen=True)
class MathTask:
    """One comparison to make: a gold answer, a solution text, and the question if known."""

    gold: str
    solution: str
    problem: str = ""


def _normal(text: str) -> str:
    """A text form under which identical answers are identical: spacing, \\dfrac, $."""
    text = re.sub(r"\\[dt]frac", r"\\frac", text.strip().strip("$"))
    text = re.sub(r"\\(?:left|right|displaystyle|[,;!: ])", " ", text)
    text = re.sub(r"\s*([^\w\s])\s*", r"\1", " ".join(text.split()))  # x + 1 -> x+1, 1 3 stays
    return text.rstrip(".")


def _suspicious(gold: str, answer: str) -> str:
    """Why an answer is wrong before any evaluation (hedges, blow-ups), else ""."""
    if len(answer) > MAX_ANSWER_CHARS:
        return f"answer longer than {MAX_ANSWER_CHARS} characters"
    several = item_count(answer) > 1 or _HEDGE.search(answer)
    if several and item_count(gold) == 1 and not _HEDGE.search(gold):
        return "the answer states several values"
    if _RELATION.search(answer) and not _RELATION.search(gold):
        return "the answer is an approximation or an inequality"
    if "=" not in gold and not all(_is_value(item) for item in top_level_split(answer)):
        return "the answer is an equation between values, not a value"
    for text in _TEXT.findall(answer):
        if re.search(r"\d", text) or _hedges(text, gold, NOT_UNITS):
            return f"the answer hedges in words: {text.strip()[:60]!r}"
    if _hedges(re.sub(r"\\[a-zA-Z]+", " ", answer), gold, _HEDGE_WORDS):  # "about 13"
        return "the answer hedges in words"
    for m in _HUGE.finditer(answer):
        if m.group(0) not in gold:
            return f"too large to evaluate in reasonable time: {m.group(0)!r}"
    return ""


def _hedges(text: str, gold: str, hedges: frozenset[str]) -> bool:
    """Words such as "or", "about", "maybe" in the answer (and not in the gold)."""
    words = set(re.findall(r"[a-z]+", text.lower())) - set(re.findall(r"[a-z]+", gold.lower()))
    if item_count(gold) > 1:
        words -= {"or", "and"}  # "x = -2 or x = 3" lists the roots the gold lists
    return bool(hedges.intersection(words))


def _is_value(item: str) -> bool:
    """ "13", "x = 13" or "f(x) = x + 1": a value, perhaps named; not "13 = 14"."""
    return all(_NAME.match(side) for side in item.split("=")[:-1])


def _fast(gold: str, answer: str, problem: str, symbolic: bool) -> MathResult | None:
    """A verdict without math-verify, or None when the symbolic path must decide."""
    answer = answer.strip()
    if not answer:
        return MathResult("no answer", answer)
    why = _suspicious(gold, answer)
    if why:
        return MathResult("wrong", answer[:200], "exact", why)
    fast = fast_equivalent(gold, answer, asks_percent(problem))
    if fast is not None:
        return MathResult("correct" if fast else "wrong", answer, "exact")
    if _normal(gold) == _normal(answer):
        return MathResult("correct", answer, "exact", "same text")
    if not symbolic:
        return MathResult("wrong", answer, "none", "not a plain number; symbolic check is off")
    return None


def _from_worker(answer: str, status: str, value: object, timeout: float) -> MathResult:
    if status == "timeout":
        return MathResult("timeout", answer, "symbolic", f"no decision within {timeout}s")
    if status == "error":
        return MathResult("error", answer, "symbolic", str(value))
    return MathResult("correct" if value else "wrong", answer, "symbolic")


def _answers(gold: str, solution: str) -> list[str] | None:
    """The answers a solution states: every distinct boxed one, else the extracted one."""
    boxes = list(dict.fromkeys(b for b in all_boxed(solution) if b.strip()))
    if len(boxes) > 1:
        return boxes
    items = split_list(gold)
    answer = extract_answer(solution, count=len(items[0]) if items else 1)
    return None if answer is None else [answer]


def _combine(results: list[MathResult]) -> MathResult:
    """Several boxed answers are right only if every one of them is."""
    if len(results) == 1:
        return results[0]
    bad = next((r for r in results if not r.ok), None)
    shown = " | ".join(str(r.answer) for r in results)[:200]
    if bad is None:
        return MathResult("correct", shown, results[0].method, "every boxed answer is right")
    return MathResult(bad.outcome, shown, bad.method, "several boxed answers, not all right")


def check_many(
    tasks: list[MathTask],
    *,
    timeout: float = 5.0,
    symbolic: bool = True,
    workers: int | None = None,
) -> list[MathResult]:
    """Check a batch: exact paths in-process, the rest on every core's math-verify worker."""
    planned: list[list[MathResult | None]] = []
    pending: list[tuple[str, str]] = []
    for task in tasks:
        answers = _answers(task.gold, task.solution)
        if answers is None:
            planned.append([MathResult("no answer")])
            continue
        row = [_fast(task.gold, a, task.problem, symbolic) for a in answers]
        pending += [(task.gold, a.strip()) for a, r in zip(answers, row, strict=True) if r is None]
        planned.append(row)
    replies = iter(pool(workers).check_many(pending, timeout) if pending else [])
    pairs = iter(pending)
    out = []
    for row in planned:
        results = []
        for r in row:
            if r is None:
                (_, answer), (status, value) = next(pairs), next(replies)
                r = _from_worker(answer, status, value, timeout)
            results.append(r)
        out.append(_combine(results))
    return out


def equivalent(
    gold: str, answer: str, *, timeout: float = 5.0, symbolic: bool = True, problem: str = ""
) -> MathResult:
    """Compare an extracted answer with the gold answer."""
    decided = _fast(gold, answer, problem, symbolic)
    if decided is not None:
        return decided
    status, value = pool().check(gold, answer.strip(), timeout)
    return _from_worker(answer.strip(), status, value, timeout)


def check_solution(
    gold: str, solution: str, *, timeout: float = 5.0, symbolic: bool = True, problem: str = ""
) -> MathResult:
    """Extract the final answer(s) from a whole solution text, then compare."""
    return check_many([MathTask(gold, solution, problem)], timeout=timeout, symbolic=symbolic)[0]
