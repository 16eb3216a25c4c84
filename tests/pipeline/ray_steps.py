"""Stage functions for the Ray executor tests (imported by Ray worker processes)."""

from __future__ import annotations

import os
from pathlib import Path

from synthmill import Record, StageContext


def where(batch: list[Record], ctx: StageContext) -> list[Record]:
    """Count the batch under the id of the process that ran it (stats only, never rows)."""
    ctx.count(f"pid-{os.getpid()}", len(batch))
    return batch


def fail_on_shard_1(batch: list[Record], ctx: StageContext) -> list[Record]:
    """Raise on shard 1 while a file `fail-shard-1` lies beside the response cache (the
    test's temp folder, which Ray workers see as the driver does)."""
    planted = ctx.cache_dir is not None and (Path(ctx.cache_dir).parent / "fail-shard-1").exists()
    if ctx.shard == 1 and planted:
        raise ValueError("planted failure on shard 1")
    return batch
