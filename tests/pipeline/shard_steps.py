"""Stage functions for the multi-shard, resume and property tests (importable by workers).

A failure is planted through an environment variable, which is not part of the pipeline's
config, so the same config resumes after the planted failure: a run interrupted at shard K.
"""

from __future__ import annotations

import os

from synthmill import Record, StageContext

WORDS = ["red", "green", "blue", "gold", "grey"]


class PlantedFailure(RuntimeError):
    """Raised where a test stops a run part-way."""


def every_fourth_synthetic(batch: list[Record], ctx: StageContext) -> list[Record]:
    """Rows whose `n` is 3 mod 4 become synthetic: a 25% mix spread over every shard."""
    return [r.with_meta(origin="synthetic") if int(r.data["n"]) % 4 == 3 else r for r in batch]


def fail_at(batch: list[Record], ctx: StageContext) -> list[Record]:
    """Raise on (stage label, shard) named by SYNTHMILL_TEST_FAIL_AT as 'LABEL@SHARD'."""
    if os.environ.get("SYNTHMILL_TEST_FAIL_AT") == f"{ctx.stage}@{ctx.shard}":
        raise PlantedFailure(f"planted failure in {ctx.stage} on shard {ctx.shard}")
    return batch


def words(batch: list[Record], ctx: StageContext) -> list[Record]:
    """Seeded short texts; repeats happen on purpose (for dedup and filters)."""
    out = []
    for r in batch:
        rng = ctx.rng(r.meta.id)
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
        out.append(r.with_data(text=text))
    return out


def split(batch: list[Record], ctx: StageContext) -> list[Record]:
    """One child per `range` row, two for odd `index` (a generation step); each names its parent."""
    out = []
    for r in batch:
        for k in range(1 + int(r.data["index"]) % 2):
            out.append(r.child({**r.data, "part": k}, stage=ctx.stage, key=k))
    return out


def drop_some(batch: list[Record], ctx: StageContext) -> list[Record]:
    """Reject a seeded fifth of the rows with a reason (rejects after a global stage)."""
    out = []
    for r in batch:
        draw = ctx.rng(r.meta.id).random()
        out.append(r.reject(ctx.stage, "unlucky", {"draw": draw}) if draw < 0.2 else r)
    return out
