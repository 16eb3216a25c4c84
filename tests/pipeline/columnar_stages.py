"""A stage with both forms, row-wise and columnar, used by the columnar-path tests."""

from __future__ import annotations

import os
import time
from typing import ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from synthmill.curate.length import LengthFilter
from synthmill.pipeline.columnar import TableResult
from synthmill.pipeline.stage import Stage, StageContext
from synthmill.records import Record, Verdict


def _pause() -> None:
    time.sleep(float(os.environ.get("SYNTHMILL_TEST_SLEEP", "0")))


class Upper(Stage):
    """Upper-case `text` (the same both ways on the test words); sleeps a little per shard."""

    kind: ClassVar[str] = "test.upper"

    def reads(self) -> list[str]:
        return ["text"]

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        _pause()
        return [r.with_data(text=r.data["text"].upper()) for r in batch]

    def process_table(self, table: pa.Table, ctx: StageContext) -> TableResult:
        _pause()
        index = table.column_names.index("text")
        table = table.set_column(index, "text", pc.utf8_upper(table.column("text")))
        return TableResult(table, table.slice(0, 0))


class OddLength(LengthFilter):
    """A subclass that overrides check(): it must get the row path, so its own rule runs."""

    kind: ClassVar[str] = "test.odd_length"

    def check(self, record: Record) -> Verdict:
        n = len(str(record.data.get(self.column) or ""))
        return Verdict(n % 2 == 1, "even length", n)
