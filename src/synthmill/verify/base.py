"""A Check whose rejects also carry the raw details (extracted answer, sandbox output)."""

from __future__ import annotations

from typing import Any, ClassVar

from synthmill.pipeline.stage import Check, StageContext
from synthmill.records import Record, Verdict


class DetailedCheck(Check):
    """Subclasses implement judge(); the verdict's reason stays a short category."""

    kind: ClassVar[str] = "check.detailed"

    def judge(self, record: Record) -> tuple[Verdict, dict[str, Any]]:
        raise NotImplementedError

    def check(self, record: Record) -> Verdict:
        return self.judge(record)[0]

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        out = []
        for record in batch:
            verdict, raw = self.judge(record)
            record = record.with_verdict(self.label, verdict)
            out.append(record if verdict.ok else record.reject(self.label, verdict.reason, raw))
        return out
