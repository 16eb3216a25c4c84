"""Executors run a stage's batches: inline, on threads, or on processes.

A batch travels as (stage, records, context) and comes back as a BatchResult, so the
same unit of work can later be shipped to a Ray cluster unchanged.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from synthmill.pipeline.stage import Stage, StageContext
from synthmill.records import Record

if TYPE_CHECKING:
    from synthmill.pipeline.ray_executor import RayExecutor


@dataclass
class BatchResult:
    records: list[Record]
    counters: dict[str, int]
    seconds: float
    rows_in: int


def run_batch(stage: Stage, batch: list[Record], ctx: StageContext) -> BatchResult:
    """The unit of work: one stage on one batch. Pure, so any executor can run it."""
    start = time.perf_counter()
    out = stage.process(batch, ctx)
    return BatchResult(out, dict(ctx.counters), time.perf_counter() - start, len(batch))


# A process pool keeps its stage in the worker, so batches do not re-send it.
_WORKER_STAGE: dict[str, Any] = {}


def _init_worker(stage: Stage) -> None:
    _WORKER_STAGE["stage"] = stage


def _run_in_worker(batch: list[Record], ctx: StageContext) -> BatchResult:
    return run_batch(_WORKER_STAGE["stage"], batch, ctx)


class LocalExecutor:
    """One pool per stage that asks for concurrency; stage order is kept in the results."""

    def __init__(self, stages: list[Stage]) -> None:
        self._stack = ExitStack()
        self._pools: dict[str, Executor] = {}
        for stage in stages:
            if stage.concurrency > 1 or stage.executor == "process":
                self._pools[stage.label] = self._stack.enter_context(_make_pool(stage))

    def map(
        self, stage: Stage, batches: Iterable[list[Record]], ctxs: Iterable[StageContext]
    ) -> Iterator[BatchResult]:
        pool = self._pools.get(stage.label)
        if pool is None:
            return (run_batch(stage, b, c) for b, c in zip(batches, ctxs, strict=True))
        if isinstance(pool, ProcessPoolExecutor):
            return pool.map(_run_in_worker, batches, ctxs)
        return pool.map(run_batch, _repeat(stage), batches, ctxs)

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _repeat(stage: Stage) -> Iterator[Stage]:
    while True:
        yield stage


def _make_pool(stage: Stage) -> Executor:
    if stage.executor == "process":
        ctx = multiprocessing.get_context("forkserver")
        return ProcessPoolExecutor(
            stage.concurrency, mp_context=ctx, initializer=_init_worker, initargs=(stage,)
        )
    return ThreadPoolExecutor(stage.concurrency, thread_name_prefix=f"synthmill-{stage.label}")



def open_executor(
    stages: list[Stage], executor: str = "local", ray_address: str | None = None
) -> LocalExecutor | RayExecutor:
    """The executor for a run: local, or Ray when the pipeline or a stage asks for it.

    Ray is joined here, before the run directory is touched, so a dead address writes nothing.
    """
    if executor == "ray" or any(s.executor == "ray" for s in stages):
        from synthmill.pipeline.ray_executor import RayExecutor

        return RayExecutor(stages, ray_address, shards=executor == "ray")
    return LocalExecutor(stages)
