"""The Ray executor: shards (or one stage's batches) run as Ray tasks on a cluster.

`executor: ray` on the pipeline sends each shard of a local segment through all the
segment's stages in one Ray task; `executor: ray` on a stage sends that stage's batches
as Ray tasks (like `executor: process`, on a cluster). Global stages (dedup) run in the
driver. Either way the driver alone reads inputs and writes the run directory (shard
files, markers, rejects, stats), with the same code and in the same places as the local
executor, so rows, provenance, resume after `kill -9` and the lock are unchanged:
workers only compute, and a task lost with its driver is redone by the next run.

Workers open the response cache at the driver's path (SQLite in WAL mode, safe between
processes of one machine), start in the driver's working directory when it exists on
their node (so relative paths and `module:function` stages resolve as they do locally),
and run an embedded model with one thread per CPU their task reserves (each worker
process loads its own copy once and keeps it for later tasks).
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from synthmill.errors import (
    ConfigError,
    MissingExtraError,
    RunFailedError,
    SynthmillError,
    describe_exception,
    guard_stage,
)
from synthmill.pipeline import executors
from synthmill.pipeline.executors import BatchResult, LocalExecutor, run_batch
from synthmill.pipeline.stage import Stage, StageContext
from synthmill.pipeline.stats import StageStats
from synthmill.records import Record

PROBE_SECONDS = 3.0  # ray.init waits minutes on a dead address; a TCP probe says so in seconds
log = logging.getLogger(__name__)


def require_ray(where: str) -> None:
    """Raise MissingExtraError (exit 2, the pip line) when ray is not installed."""
    from importlib.util import find_spec

    if find_spec("ray") is None:
        raise MissingExtraError("ray", "ray", where=where)


def probe(address: str, timeout: float = PROBE_SECONDS) -> None:
    """Fail in seconds, with one line, when nothing listens at a Ray address."""
    if address == "auto" or address.startswith("local"):
        return  # ray finds the cluster of this machine itself and fails fast without one
    rest = address.split("://", 1)[-1]
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(
            f"ray_address {address!r}: write it as HOST:PORT (the head's GCS, e.g. "
            "10.0.0.5:6379), ray://HOST:PORT (Ray Client) or auto"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"ray_address {address}: no Ray cluster answers there ({reason}); start one "
            "with `ray start --head` or fix --ray-address"
        ) from None


def connect(address: str | None) -> bool:
    """Join (or start) a Ray cluster; True when this call did, so close() shuts it down."""
    import ray

    if ray.is_initialized():  # a Python user who called ray.init() keeps their session
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is not None:
        probe(address)
    options: dict[str, Any] = {
        "log_to_driver": False,  # worker output stays in Ray's log files, off stdout
        "logging_level": logging.ERROR,
    }
    if address is None:  # a private local Ray for this run: no dashboard
        options["include_dashboard"] = False
    try:
        ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        where = address or "a local Ray"
        raise ConfigError(f"ray: cannot connect to {where} ({describe_exception(exc)})") from None
    return True


# ---- what runs in a worker ------------------------------------------------------------------
@dataclass
class Failure:
    """An exception raised in a worker, in a form that crosses the wire."""

    error: BaseException | None  # the exception itself, when it pickles
    cls: type[BaseException]
    message: str

    def rebuild(self) -> BaseException:
        if self.error is not None:
            return self.error
        exc = self.cls.__new__(self.cls)  # a SynthmillError whose __init__ takes other args
        exc.args = (self.message,)
        return exc


def capture(exc: BaseException) -> Failure:
    try:
        pickle.loads(pickle.dumps(exc))
        return Failure(exc, type(exc), str(exc))
    except Exception:  # anything that does not survive pickling
        if isinstance(exc, SynthmillError):
            return Failure(None, type(exc), str(exc))
        return Failure(None, RunFailedError, f"a Ray task failed: {describe_exception(exc)}")


@dataclass
class ShardResult:
    """A shard after every stage of its segment: kept rows, and per stage its rejects and stats."""

    records: list[Record]
    stages: dict[str, tuple[list[Record], StageStats]]


def enter_driver_dir(cwd: str, share: tuple[int, int]) -> None:
    """Start where the driver started, when that folder exists here (shared storage), and
    take this task's share of each stage's limits (an HTTP backend's max_in_flight): one of
    `share[1]` tasks that run at once, so that together they keep to the stage's limit."""
    if os.path.isdir(cwd) and os.getcwd() != cwd:
        os.chdir(cwd)
    if cwd not in sys.path:
        sys.path.append(cwd)
    executors._WORKER_STAGE["share"] = share


def run_shard(stages: list[Stage], records: list[Record], ctx: StageContext) -> ShardResult:
    """One shard through a segment's stages, as Runner._run_stage does it, minus the writing."""
    from synthmill.pipeline.columns import check_batch
    from synthmill.pipeline.runner import _batch_stats, chunks

    out: dict[str, tuple[list[Record], StageStats]] = {}
    with LocalExecutor(stages) as executor:
        for stage in stages:
            check_batch(stage, records)
            batches = list(chunks(records, stage.batch_size))
            ctxs = [replace(ctx, stage=stage.label, counters=Counter()) for _ in batches]
            kept: list[Record] = []
            rejected: list[Record] = []
            stats = StageStats()
            start = time.perf_counter()
            results = guard_stage(executor.map(stage, batches, ctxs), stage.label, ctx.shard)
            for result in results:
                for r in result.records:
                    (rejected if r.rejected else kept).append(r)
                stats.add(
                    _batch_stats(result.rows_in, result.records, result.seconds, result.counters)
                )
            stats.wall = time.perf_counter() - start
            out[stage.label] = (rejected, stats)
            records = kept
    return ShardResult(records, out)


def _shard_task(
    stages: list[Stage], records: list[Record], ctx: StageContext, cwd: str, share: tuple[int, int]
) -> ShardResult | Failure:
    enter_driver_dir(cwd, share)
    try:
        return run_shard(stages, records, ctx)
    except BaseException as exc:  # sent back to the driver, which raises it
        return capture(exc)


def _batch_task(
    stage: Stage, batch: list[Record], ctx: StageContext, cwd: str, share: tuple[int, int]
) -> BatchResult | Failure:
    enter_driver_dir(cwd, share)
    try:
        return run_batch(stage, batch, ctx)
    except BaseException as exc:  # the same
        return capture(exc)


def for_worker(stage: Stage, cpus: int) -> Stage:
    """The stage as a worker runs it: no nested pools of processes or Ray tasks, and an
    embedded model (a backend with `n_threads` unset) on the CPUs its task reserves.
    Both are speed options: the rows and the cache keys stay the same."""
    from synthmill.pipeline.preflight import nested_models

    updates: dict[str, Any] = {}
    for name, model in nested_models(stage):
        if "n_threads" in type(model).model_fields and getattr(model, "n_threads", 0) is None:
            updates[name] = model.model_copy(update={"n_threads": cpus})
    if stage.executor != "thread":
        updates["executor"] = "thread"
    return stage.model_copy(update=updates) if updates else stage


def task_cpus(stages: Iterable[Stage], largest_node: int) -> int:
    """CPUs one task reserves: 1, or the most threads an embedded model was given."""
    from synthmill.pipeline.preflight import nested_models

    wanted = [
        int(n)
        for stage in stages
        for _, model in nested_models(stage)
        if isinstance(n := getattr(model, "n_threads", None), int)
    ]
    return max(1, min(max([1, *wanted]), largest_node))


# ---- the driver side ------------------------------------------------------------------------
class RayExecutor:
    """Runs shards (pipeline `executor: ray`) or batches (stage `executor: ray`) on Ray.

    Stages with a local executor keep running here, through a LocalExecutor.
    """

    def __init__(self, stages: list[Stage], address: str | None, shards: bool) -> None:
        require_ray("executor: ray")
        import ray

        self.runs_shards = shards
        self._local = LocalExecutor([s for s in stages if s.executor != "ray"])
        try:
            self._owned = connect(address)
            api: Any = ray  # ray.nodes() and cluster_resources() are untyped
            nodes = [n for n in api.nodes() if n.get("Alive")]
            self._largest = max([int(n["Resources"].get("CPU", 0)) for n in nodes] + [1])
            self._cpus = max(1, int(api.cluster_resources().get("CPU", 1)))
        except BaseException:
            self.close()
            raise
        self._cwd = os.getcwd()
        # no retries: a task that died is redone by the next run, like a killed local shard
        self._shard_fn = ray.remote(max_retries=0)(_shard_task)
        self._batch_fn = ray.remote(max_retries=0)(_batch_task)
        self._staged: dict[str, Any] = {}  # stage label -> the stage in Ray's object store

    # the LocalExecutor interface: one stage, its batches in order
    def map(
        self, stage: Stage, batches: Iterable[list[Record]], ctxs: Iterable[StageContext]
    ) -> Iterator[BatchResult]:
        if stage.executor != "ray":
            return self._local.map(stage, batches, ctxs)
        import ray

        cpus = task_cpus([stage], self._largest)
        if stage.label not in self._staged:
            self._staged[stage.label] = ray.put(for_worker(stage, cpus))
        fn = self._batch_fn.options(num_cpus=cpus)
        slots = max(1, self._cpus // cpus)
        refs = [
            fn.remote(self._staged[stage.label], b, c, self._cwd, (j % slots, slots))
            for j, (b, c) in enumerate(zip(batches, ctxs, strict=True))
        ]
        return (self._result(ref, f"stage {stage.label!r}") for ref in refs)

    def map_shards(
        self,
        stages: list[Stage],
        work: Iterable[tuple[int, Callable[[], list[Record]]]],
        ctx: StageContext,
    ) -> Iterator[tuple[int, ShardResult]]:
        """Each (shard index, loader) through `stages` as one Ray task; results as they end.

        At most two tasks per CPU are out at once, so the driver holds a bounded number
        of shards in memory however many the segment has.
        """
        import ray

        cpus = task_cpus(stages, self._largest)
        shipped = ray.put([for_worker(s, cpus) for s in stages])
        fn = self._shard_fn.options(num_cpus=cpus)
        slots = max(1, self._cpus // cpus)  # tasks that run at once
        window = 2 * slots
        pending: dict[Any, int] = {}
        todo = iter(work)
        while True:
            while len(pending) < window and (item := next(todo, None)) is not None:
                i, load = item
                share = (i % slots, slots)
                pending[fn.remote(shipped, load(), replace(ctx, shard=i), self._cwd, share)] = i
            if not pending:
                return
            done, _ = ray.wait(list(pending), num_returns=1)
            i = pending.pop(done[0])
            result = self._result(done[0], f"shard {i}")
            assert isinstance(result, ShardResult)
            yield i, result

    def _result(self, ref: Any, what: str) -> Any:
        import ray
        from ray.exceptions import RayError

        try:
            value = ray.get(ref)
        except RayError as exc:  # a worker died (out of memory, a crash), a node was lost
            first = " ".join(str(exc).split())[:300]
            raise RunFailedError(
                f"the Ray task for {what} failed: {type(exc).__name__}: {first}; finished "
                "shards are kept: run the same command to resume"
            ) from None
        if isinstance(value, Failure):
            raise value.rebuild()
        return value

    def close(self) -> None:
        self._local.close()
        if getattr(self, "_owned", False):
            import ray

            ray.shutdown()
            self._owned = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
