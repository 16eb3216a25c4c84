"""`filter.expression`: keep rows for which a Jinja2 expression over their columns holds.

    - use: filter.expression
      expr: "{{ question.endswith('?') and topic in question.lower() }}"
      reason: off topic

The expression runs in the same sandbox as `generate`'s templates; the columns it names
are checked against the data before the run starts.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from synthmill.errors import DataError
from synthmill.pipeline.stage import Check
from synthmill.records import Record, Verdict
from synthmill.templates import compile_expression, evaluate, expression_variables


class ExpressionFilter(Check):
    """Keep rows where a Jinja2 expression over their columns is true."""

    kind: ClassVar[str] = "filter.expression"
    expr: str = Field(description="Jinja2 expression, e.g. \"{{ score > 3 and 'x' in text }}\".")
    reason: str = Field(default="expression false", description="Reject reason when false.")

    @field_validator("expr")
    @classmethod
    def _compiles(cls, value: str) -> str:
        compile_expression(value)
        return value

    def reads(self) -> list[str]:
        return sorted(expression_variables(self.expr))

    def check(self, record: Record) -> Verdict:
        try:
            ok = bool(evaluate(self.expr, record.data))
        except DataError as exc:  # a value the expression cannot handle (None, a short list)
            return Verdict(False, "expression failed", raw={"expr": self.expr, "error": str(exc)})
        return Verdict(ok, "" if ok else self.reason, raw=None if ok else {"expr": self.expr})
