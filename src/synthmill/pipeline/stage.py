"""The stage protocol: a stage maps a batch of records to a batch of records.

Three shapes cover every step of the flow:
- `Stage.process(batch, ctx)` works on one batch at a time (generation, checks, maps);
- `Source.rows(ctx)` cheaply lists the rows a pipeline starts from (files, slots to fill);
- `GlobalStage.process_all(records, ctx)` needs every row at once (dedup, novelty).
A `Check` only decides (`check(record) -> Verdict`); the base class records the verdict
and rejects the row, and the runner does the counting.
Each shape has an optional columnar form over Arrow tables (`process_table`, `tables`,
`process_tables`, `check_table`; see pipeline/columnar.py) that the runner prefers.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from synthmill.pipeline.portable import portable_path, use_name
from synthmill.records import Record, Verdict, stable_hash

if TYPE_CHECKING:
    import pyarrow as pa

    from synthmill.pipeline.columnar import TableResult, TableVerdicts

ANY_COLUMN = "*"  # in Stage.writes(): the stage may add any column (unknown before it runs)


def _placeholder(func: Any) -> Any:
    """Mark a base class's optional columnar method: stages that do not override it are
    row-wise (see pipeline/columnar.py)."""
    func.placeholder = True
    return func


@dataclass
class StageContext:
    """What a stage may know about where it runs. Picklable; counters travel back."""

    seed: int
    stage: str
    shard: int = 0
    cache_dir: str | None = None  # where response caches live; None means caching is off
    counters: Counter[str] = field(default_factory=Counter)
    run: str | None = None  # the run directory's id: the payer of model calls in the cache

    def rng(self, *key: object) -> random.Random:
        """A random generator that depends only on the seed, the stage and `key`.

        Key it by record id, never by position, so output does not depend on batching.
        """
        return random.Random(int(stable_hash(self.seed, self.stage, key), 16))

    def count(self, name: str, n: int = 1) -> None:
        """Add to a named counter; the runner sums it into the stage's stats."""
        self.counters[name] += n


class Stage(BaseModel):
    """Base of every stage. Subclasses add their own options as pydantic fields."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    kind: ClassVar[str] = "stage"
    # Optional imports: (module, pip package, extra), checked when the pipeline is built.
    requires: ClassVar[tuple[tuple[str, str, str], ...]] = ()

    name: str | None = Field(default=None, description="Label in stats; defaults to the kind.")
    batch_size: int = Field(default=64, ge=1, description="Rows handed to process() at once.")
    concurrency: int = Field(default=1, ge=1, description="Batches processed in parallel.")
    executor: Literal["thread", "process", "ray"] = Field(
        default="thread",
        description="thread for I/O-bound stages, process for CPU-bound ones, ray to send "
        "the batches to a Ray cluster (pipeline ray_address; needs synthmill[ray]).",
    )

    @property
    def label(self) -> str:
        return self.name or self.kind

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        """Map one batch to its output; mark failures with `record.reject(...)`."""
        return batch

    # Optional columnar form (pipeline/columnar.py): a whole shard as one Arrow table in the
    # shard layout (data columns, then the `_meta` struct). Stages without it get records.
    @_placeholder
    def process_table(self, table: pa.Table, ctx: StageContext) -> TableResult:
        """Map one shard's table to kept and rejected rows (a columnar stage overrides it)."""
        raise NotImplementedError

    def reads(self) -> list[str]:
        """Columns this stage reads from each row; the runner checks them before any work.

        List only the columns the stage cannot do without; [] checks nothing.
        """
        return []

    def writes(self) -> list[str]:
        """Columns this stage adds to its rows, so later stages may read them.

        `ANY_COLUMN` in the list means "unknown" (a user function): stages after it are
        checked against the rows that actually reach them.
        """
        return []

    def input_files(self) -> list[Path]:
        """Files whose content decides this stage's rows; run.json fingerprints them, and a
        resume refuses to go on when one changed."""
        return []

    def preflight(self) -> None:
        """Check what must hold before a run writes anything (input readable, keys set).

        Raise a SynthmillError; the default checks nothing. Optional imports are declared
        in `requires` instead and checked when the pipeline is built.
        """

    def summarize(self, stats: dict[str, Any]) -> dict[str, Any] | None:
        """An optional summary of this stage's finished stats (pass@k, agreement...).

        It is stored in stats.json, shown by `synthmill inspect` and in the dataset card.
        """
        return None

    def to_config(self) -> dict[str, object]:
        """The YAML form of this stage: `use:` plus every option that is not a default.

        Nested models with their own to_config() (backends) are written that way; a class
        not registered under its kind is written by import path, project files relatively.
        """
        config: dict[str, object] = {"use": use_name(type(self))}
        dumped = self.model_dump(mode="json", exclude_defaults=True)
        for key, value in dumped.items():
            nested = getattr(self, key)
            config[key] = nested.to_config() if hasattr(nested, "to_config") else value
            config[key] = portable_path(config[key])
        return config


class Source(Stage):
    """The first stage of a pipeline: lists rows cheaply; costly work goes in process()."""

    kind: ClassVar[str] = "source"

    def rows(self, ctx: StageContext) -> Iterator[Record]:
        raise NotImplementedError

    @_placeholder
    def tables(self, ctx: StageContext) -> Iterator[pa.Table]:
        """The rows of rows(), as tables in the shard layout (a columnar source overrides
        it); any table size, the runner cuts them into shards."""
        raise NotImplementedError

    def count(self) -> int | None:
        """How many rows rows() yields, when that is cheap to know (for progress bars)."""
        return None

    def samples(self, ctx: StageContext, rows: int) -> Iterator[tuple[str, list[Record]]]:
        """(name, first `rows` rows) of each input that the stages' declared columns are
        checked against before the run. One sample of rows() by default; a source of many
        files gives one per file, so a file without a column is caught, not read as nulls."""
        name = getattr(self, "path", None) or repr(self.label)
        yield str(name), list(itertools.islice(self.rows(ctx), rows))


class GlobalStage(Stage):
    """A stage that must see every row, such as deduplication."""

    kind: ClassVar[str] = "global"

    def process_all(self, records: Iterable[Record], ctx: StageContext) -> Iterator[Record]:
        raise NotImplementedError

    @_placeholder
    def process_tables(
        self, tables: Iterable[pa.Table], ctx: StageContext
    ) -> Iterator[TableResult]:
        """process_all() on tables (re-iterable, one shard each): a result per table, in
        order, whose kept rows are the rows process_all() would keep."""
        raise NotImplementedError


class Check(Stage):
    """A filter or verifier: subclasses implement check(); the base keeps the books."""

    kind: ClassVar[str] = "check"

    def check(self, record: Record) -> Verdict:
        raise NotImplementedError

    @_placeholder
    def check_table(self, table: pa.Table) -> TableVerdicts:
        """Verdicts for every row of a table, as check() would give them (optional)."""
        raise NotImplementedError

    def process_table(self, table: pa.Table, ctx: StageContext) -> TableResult:
        from synthmill.pipeline.columnar import split_verdicts

        return split_verdicts(table, self.label, self.check_table(table))

    def check_batch(self, records: list[Record]) -> list[Verdict]:
        """Verdicts for a batch; override to batch work (a worker pool, one model call)."""
        return [self.check(record) for record in records]

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        out = []
        for record, verdict in zip(batch, self.check_batch(batch), strict=True):
            record = record.with_verdict(self.label, verdict)
            out.append(
                record if verdict.ok else record.reject(self.label, verdict.reason, verdict.raw)
            )
        return out
