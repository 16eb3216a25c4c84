"""A Check whose rejections carry a raw payload (what matched, the measured value)."""

from __future__ import annotations

from typing import Any, ClassVar

from synthmill.pipeline.stage import Check, StageContext
from synthmill.records import Record, Verdict


class DetailedCheck(Check):
    """Subclasses implement inspect() -> (verdict, details); details go to the rejects file."""

    kind: ClassVar[str] = "check.detailed"

    def inspect(self, record: Record) -> tuple[Verdict, Any]:
        raise NotImplementedError

    def check(self, record: Record) -> Verdict:
        return self.inspect(record)[0]

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        out = []
        for record in batch:
            verdict, raw = self.inspect(record)
            record = record.with_verdict(self.label, verdict)
            out.append(record if verdict.ok else record.reject(self.label, verdict.reason, raw))
        return out
