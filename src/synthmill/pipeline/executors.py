"""Executors run a stage's batches: inline, on threads, or on processes.

A batch travels as (stage, records, context) and comes back as a BatchResult, so the
same unit of work can later be shipped to a Ray cluster unchanged.

A stage whose backend calls a server over HTTP (it has `batches_in_flight`) gets, unless
its `concurrency` is set, as many threads as keep the backend's `max_in_flight` requests
busy; the backend's shared limiter, not the thread count, caps what is in flight. On a
process pool each worker knows its index, so it takes its share of the stage's limits.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from synthmill.pipeline.stage import Stage, StageContext
from synthmill.records import Record

if TYPE_CHECKING:
    from synthmill.pipeline.ray_executor import RayExecutor

T = TypeVar("T")


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
MAX_THREADS = 256  # threads waiting on a backend's limiter cost little; a cap all the same


def _init_worker(stage: Stage, counter: Any = None, workers: int = 1) -> None:
    _WORKER_STAGE["stage"] = stage
    if counter is not None:
        with counter.get_lock():
            _WORKER_STAGE["share"] = (int(counter.value), workers)
            counter.value += 1


def worker_share() -> tuple[int, int]:
    """(index, count) of this worker among its stage's processes; (0, 1) outside a pool."""
    share: tuple[int, int] = _WORKER_STAGE.get("share", (0, 1))
    return share


def threads(stage: Stage) -> int:
    """Batches of `stage` run at once on threads: its `concurrency`, or, when that is not
    set and a backend of it reports `batches_in_flight`, enough to keep that backend busy."""
    if "concurrency" in stage.model_fields_set or stage.executor == "process":
        return stage.concurrency
    values: list[Any] = [getattr(stage, name, None) for name in type(stage).model_fields]
    wanted = [
        int(v.batches_in_flight(stage.batch_size))
        for v in values
        if hasattr(v, "batches_in_flight")
    ]
    return min(MAX_THREADS, max([stage.concurrency, *wanted]))


def _run_in_worker(batch: list[Record], ctx: StageContext) -> BatchResult:
    return run_batch(_WORKER_STAGE["stage"], batch, ctx)


class LocalExecutor:
    """One pool per stage that asks for concurrency; stage order is kept in the results."""

    def __init__(self, stages: list[Stage]) -> None:
        self._stack = ExitStack()
        self._pools: dict[str, Executor] = {}
        for stage in stages:
            if threads(stage) > 1 or stage.executor == "process":
                self._pools[stage.label] = self._stack.enter_context(_make_pool(stage))

    def map(
        self, stage: Stage, batches: Iterable[list[Record]], ctxs: Iterable[StageContext]
    ) -> Iterator[BatchResult]:
        pool = self._pools.get(stage.label)
        if pool is None:
            return (run_batch(stage, b, c) for b, c in zip(batches, ctxs, strict=True))
        if isinstance(pool, ProcessPoolExecutor):
            return _explain_broken(pool, pool.map(_run_in_worker, batches, ctxs))
        return pool.map(run_batch, _repeat(stage), batches, ctxs)

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _explain_broken(pool: ProcessPoolExecutor, results: Iterator[T]) -> Iterator[T]:
    """A dead worker breaks the pool with a message that says nothing of why: add the
    workers' exit codes (-9: SIGKILL, e.g. out of memory; 1: it crashed, see its traceback;
    -15: stopped by the pool after another one died)."""
    try:
        yield from results
    except BrokenProcessPool as exc:
        processes = getattr(pool, "_processes", None) or {}
        codes = sorted(str(p.exitcode) for p in processes.values())
        raise BrokenProcessPool(
            f"{exc} (worker exit codes: {', '.join(codes) or 'unknown'})"
        ) from exc


def _repeat(stage: Stage) -> Iterator[Stage]:
    while True:
        yield stage


def _make_pool(stage: Stage) -> Executor:
    if stage.executor == "process":
        ctx = multiprocessing.get_context("forkserver")
        counter = ctx.Value("i", 0)
        return ProcessPoolExecutor(
            stage.concurrency,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(stage, counter, stage.concurrency),
        )
    return ThreadPoolExecutor(threads(stage), thread_name_prefix=f"synthmill-{stage.label}")


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
