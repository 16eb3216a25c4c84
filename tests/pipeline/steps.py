"""Stage functions used by the engine tests (importable by worker processes)."""

from __future__ import annotations

import os
import time

from synthmill import Record, StageContext

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]


def make_text(batch: list[Record], ctx: StageContext) -> list[Record]:
    """Seeded pseudo-text; short texts and repeats happen on purpose (for filters, dedup)."""
    out = []
    for rec in batch:
        rng = ctx.rng(rec.meta.id)
        n = rng.randint(1, 6)
        text = " ".join(rng.choice(WORDS[:4]) for _ in range(n))
        out.append(rec.with_data(text=text, pid=os.getpid() * 0))
    return out


def slow(batch: list[Record], ctx: StageContext) -> list[Record]:
    """Sleep a little per batch so that a kill lands in the middle of work."""
    time.sleep(float(os.environ.get("SYNTHMILL_TEST_SLEEP", "0.05")))
    return [r.with_data(text=r.data["text"].upper()) for r in batch]


def tag(batch: list[Record], ctx: StageContext) -> list[Record]:
    """Add a seeded column and reject some rows, to exercise rejects after a global stage."""
    out = []
    for rec in batch:
        lucky = ctx.rng(rec.meta.id).random()
        rec = rec.with_data(lucky=round(lucky, 6))
        out.append(rec.reject(ctx.stage, "unlucky", {"lucky": lucky}) if lucky < 0.1 else rec)
    return out


def double(batch: list[Record]) -> list[Record]:
    """One-argument form: two children per row."""
    return [
        r.child({"text": r.data["text"] * 2}, stage="double", key=k) for r in batch for k in (0, 1)
    ]


def fail_on_shard(batch: list[Record], ctx: StageContext) -> list[Record]:
    """Raise on the shard named by SYNTHMILL_TEST_FAIL_SHARD: a run that stops part-way."""
    if os.environ.get("SYNTHMILL_TEST_FAIL_SHARD") == str(ctx.shard):
        raise RuntimeError(f"planted failure on shard {ctx.shard}")
    return batch


def tamper(batch: list[Record], ctx: StageContext) -> list[Record]:
    """Append a row to the file named by SYNTHMILL_TEST_TAMPER: input changing mid-run."""
    path = os.environ.get("SYNTHMILL_TEST_TAMPER")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write('{"text": "a row that arrived mid-run"}\n')
    return batch
