"""How many rows a work shard holds.

`shard_size` rows (default 1000) keeps a resume cheap where each row costs a model call.
A segment whose every stage works on whole tables (read, length and quality rules, exact
dedup hashing: see pipeline/columnar.py) redoes a shard in a fraction of a second, and
there each shard's fixed costs (its files, marker, Parquet footers, commit) were most of
the time: when `shard_size` is not set, such a segment's shards hold about BULK_BYTES of
data instead. A global stage cuts its output for the segment after it the same way.

Segment 0 is cut from the source, so its shard size must not change between attempts (a
resume on the row path, SYNTHMILL_ROW_PATH=1, reads the same rows per shard): the first
attempt records it in `work/seg-00/_layout.json`, and every later attempt reads it back.
A run dir from before that file existed was cut into `shard_size` rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from synthmill.pipeline import columnar
from synthmill.pipeline.stage import GlobalStage

if TYPE_CHECKING:
    import pyarrow as pa

    from synthmill.pipeline.pipeline import Pipeline
    from synthmill.pipeline.rundir import RunDir
    from synthmill.pipeline.stage import Stage

BULK_BYTES = 8 << 20  # data a shard of a whole-table segment holds (Arrow bytes)
LAYOUT = "_layout.json"


def whole_table_segment(k: int, stages: Sequence[Stage]) -> bool:
    """Whether every stage of local segment k works on whole tables (no row-wise stage)."""
    if k == 0:
        return columnar.columnar_source(stages[0]) and all(
            columnar.columnar_step(s) for s in stages[1:]
        )
    return all(columnar.columnar_step(s) for s in stages)


def bulk(pipeline: Pipeline, k: int, stages: Sequence[Stage]) -> bool:
    """Whether segment k's shards may hold BULK_BYTES: shard_size left to its default
    and the segment all whole-table stages."""
    return "shard_size" not in pipeline.model_fields_set and whole_table_segment(k, stages)


def bulk_rows(table: pa.Table, floor: int) -> int:
    """Rows of a shard of about BULK_BYTES, by the bytes per row of `table` (at least
    `floor`)."""
    per_row = max(1, int(table.nbytes) // max(1, table.num_rows))
    return max(floor, int(BULK_BYTES // per_row))


def source_rows(
    rd: RunDir, pipeline: Pipeline, stages: Sequence[Stage], first: pa.Table | None
) -> int:
    """Rows per shard of segment 0: as recorded by the run's first attempt, else chosen
    now (by `first`, the source's first table, on the columnar path) and recorded."""
    path = rd.segment_dir(0) / LAYOUT
    stored = rd.read_json(path)
    if isinstance(stored, dict) and isinstance(stored.get("shard_rows"), int):
        return int(stored["shard_rows"])
    rows = pipeline.shard_size
    if rd.shards_done(0):  # an attempt from before the layout was recorded
        return rows
    if first is not None and bulk(pipeline, 0, stages):
        rows = bulk_rows(first, rows)
    rd.write_json(path, {"shard_rows": rows})
    return rows


def output_rows(
    pipeline: Pipeline, segments: Sequence[Sequence[Stage]], k: int, first: pa.Table
) -> int:
    """Rows per output shard of global segment k: large when the segment after it works
    on whole tables, or none follows (publish re-cuts the rows into files anyway)."""
    if "shard_size" in pipeline.model_fields_set:
        return pipeline.shard_size
    if k + 1 < len(segments):
        after = segments[k + 1]
        if isinstance(after[0], GlobalStage):
            if not columnar.columnar_global(after[0]):
                return pipeline.shard_size
        elif not whole_table_segment(k + 1, after):
            return pipeline.shard_size
    return bulk_rows(first, pipeline.shard_size)


def peek(tables: Iterable[pa.Table]) -> tuple[pa.Table | None, Iterator[pa.Table]]:
    """The first table of `tables` that has rows (None: none has), and all of them again
    (the tables before it are held: they have no rows)."""
    it = iter(tables)
    held: list[pa.Table] = []
    for table in it:
        held.append(table)
        if table.num_rows:
            return table, itertools.chain(held, it)
    return None, iter(held)
