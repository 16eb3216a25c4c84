"""The runner: shards flow through stages; every finished shard is checkpointed.

Stages are cut into segments at each GlobalStage. A local segment runs shard by shard
(each shard through all its stages, then written atomically with a .done marker); a
global segment reads all shards of the segment before it. A run killed at any moment
and started again skips what is marked done and redoes only unfinished shards, which
give the same rows because every stage draws randomness from (seed, stage, record id).
"""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthmill.errors import (
    BackendError,
    RunFailedError,
    describe_exception,
    describe_os_error,
    guard_stage,
    stage_errors,
)
from synthmill.io.atomic import atomic_path
from synthmill.io.records_io import (
    read_records,
    records_to_table,
    rejects_writer,
    write_records,
    write_rejects,
)
from synthmill.pipeline import columnar, shards
from synthmill.pipeline.columns import (
    check_batch,
    check_pipeline,
    check_stages,
    require,
    shard_columns,
)
from synthmill.pipeline.commit import Commit
from synthmill.pipeline.executors import LocalExecutor, open_executor
from synthmill.pipeline.pipeline import Pipeline
from synthmill.pipeline.preflight import preflight
from synthmill.pipeline.progress import LogProgress, Progress
from synthmill.pipeline.publish import publish
from synthmill.pipeline.rundir import RunDir, default_cache_dir
from synthmill.pipeline.stage import GlobalStage, Source, Stage, StageContext
from synthmill.pipeline.stats import StageStats, merge
from synthmill.pipeline.transient import check_failed_share, reopen, run_id
from synthmill.records import Record

if TYPE_CHECKING:
    import pyarrow as pa

    from synthmill.pipeline.ray_executor import RayExecutor

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    root: Path
    rows: int
    stats: dict[str, Any]


def plan(stages: list[Stage]) -> list[list[Stage]]:
    """Cut the stage list into segments: runs of local stages, and each global stage alone."""
    segments: list[list[Stage]] = []
    for stage in stages:
        if (
            isinstance(stage, GlobalStage)
            or not segments
            or isinstance(segments[-1][0], GlobalStage)
        ):
            segments.append([stage])
        else:
            segments[-1].append(stage)
    return segments


def chunks(items: Iterable[Record], size: int) -> Iterator[list[Record]]:
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch


class Runner:
    def __init__(
        self, pipeline: Pipeline, progress: Progress | None = None, overwrite: bool = False
    ) -> None:
        self.pipeline = pipeline
        self.progress = progress or LogProgress()
        self.overwrite = overwrite
        out = pipeline.output.model_copy(update={"dir": pipeline.output.dir.absolute()})
        self.pipeline = pipeline.model_copy(update={"output": out})
        self.rundir = RunDir(out.dir)
        self.cache_dir = str(default_cache_dir()) if pipeline.cache else None
        self.run_key: str | None = None  # the run dir's id, known once it is prepared

    def _ctx(self, stage: Stage, shard: int = 0) -> StageContext:
        seed, cache = self.pipeline.seed, self.cache_dir
        return StageContext(seed, stage.label, shard, cache, run=self.run_key)

    def run(self) -> RunResult:
        p = self.pipeline
        # bad input, keys, output folder, a backend server that is down: nothing written
        inputs = preflight(p, self.rundir, self.overwrite)
        check_pipeline(p.stages, p.seed)  # a misspelt column fails before anything is written
        # a Ray cluster is joined before the run dir is touched: a dead address writes nothing
        with open_executor(p.stages, p.executor, p.ray_address) as executor:
            try:  # prepare() inside: a signal as it returns still marks the run interrupted
                self.rundir.prepare(p.to_config(), p.seed, self.overwrite, inputs)
                return self._run_segments(executor)
            except OSError as exc:  # disk full, folder made read-only: one line, status failed
                self.rundir.mark_failed(describe_os_error(exc))
                raise RunFailedError(describe_os_error(exc)) from exc
            except BackendError as exc:  # found by the first calls: exit 1, the run dir kept
                raise self.rundir.stopped_by_backend(exc) from exc
            except BaseException as exc:  # Ctrl-C and SIGTERM are no Exception: interrupted
                self.rundir.mark_failed(describe_exception(exc), not isinstance(exc, Exception))
                raise
            finally:
                self.rundir.unlock()

    def _run_segments(self, executor: LocalExecutor | RayExecutor) -> RunResult:
        p = self.pipeline
        segments = plan(p.stages)
        self.run_key = run_id(self.rundir)
        reopen(self.rundir, segments)  # shards with transient rejects are redone
        source = p.stages[0]
        assert isinstance(source, Source)
        for stage in p.stages:
            self.progress.stage_started(stage.label, source.count() if stage is source else None)
        for k, segment in enumerate(segments):
            if isinstance(segment[0], GlobalStage):
                self._run_global(k, segment[0])
            else:
                self._run_local(k, segment, executor)
        stats = publish(self.rundir, p, segments)
        self.rundir.mark_finished()
        check_failed_share(stats, p.max_failed_share, self.rundir.root / "data")  # exit 3
        return RunResult(self.rundir.root, stats["rows"], stats)

    # ---- declared columns ------------------------------------------------------------------
    def _check_segment(self, k: int) -> None:
        """Check the stages from segment k on against the columns its input shards have."""
        paths = sorted(self.rundir.segment_dir(k - 1).glob("shard-*.parquet"))
        columns = shard_columns(paths)
        segments = plan(self.pipeline.stages)
        if columns is not None:
            rows = f"the rows out of {segments[k - 1][-1].label!r}"
            check_stages([s for seg in segments[k:] for s in seg], columns, rows)

    # ---- local segments ------------------------------------------------------------------
    def _inputs(self, k: int, stages: list[Stage]) -> Iterator[Callable[[], list[Record]]]:
        """Loaders of each input shard; a finished shard's input is never read again."""
        if k == 0:
            source = stages[0]
            assert isinstance(source, Source)
            size = shards.source_rows(self.rundir, self.pipeline, stages, None)
            for chunk in chunks(source.rows(self._ctx(source)), size):
                yield partial(list, chunk)
            return
        for path in sorted(self.rundir.segment_dir(k - 1).glob("shard-*.parquet")):
            yield partial(read_records, path)

    def _table_inputs(self, k: int, stages: list[Stage]) -> Iterator[Callable[[], pa.Table]]:
        """Loaders of each input shard as a table (the columnar path)."""
        if k == 0:
            source = stages[0]
            assert isinstance(source, Source)
            with stage_errors(source.label, 0):
                first, tables = shards.peek(source.tables(self._ctx(source)))
                size = shards.source_rows(self.rundir, self.pipeline, stages, first)
                for table in columnar.rebatch(tables, size):
                    yield partial(_same, table)
            return
        for path in sorted(self.rundir.segment_dir(k - 1).glob("shard-*.parquet")):
            yield partial(columnar.shard_table, path)

    def _run_shards_columnar(self, k: int, stages: list[Stage], executor: LocalExecutor) -> None:
        """The segment's unfinished shards as tables, committed about a second at a time:
        shard files and rejects first, then their markers (pipeline/commit.py)."""
        data, markers = Commit(), Commit()
        try:
            for i, load in self._todo(k, stages, tables=True):
                self._run_shard_columnar(k, i, load(), stages, executor, (data, markers))
                if data.due() or markers.due():
                    data.flush()
                    markers.flush()
        except OSError:
            data.discard()
            markers.discard()
            raise
        finally:
            data.flush()  # finished shards are kept, also when a later one failed
            markers.flush()

    def _run_shard_columnar(
        self,
        k: int,
        i: int,
        table: pa.Table,
        stages: list[Stage],
        executor: LocalExecutor,
        commit: tuple[Commit, Commit],
    ) -> None:
        """One shard through a segment as a table; records only for row-wise stages."""
        data: pa.Table | list[Record] = table
        stats: dict[str, StageStats] = {}
        for stage in stages:
            if isinstance(data, list) and columnar.columnar_step(stage):
                data = records_to_table(data) if data else table.slice(0, 0)
            if isinstance(stage, Source) and columnar.columnar_source(stage):
                stats[stage.label] = self._pass_through(stage, data)
            elif not isinstance(data, list) and columnar.columnar_step(stage):
                data, stats[stage.label] = self._run_stage_table(k, i, stage, data, commit[0])
            else:
                records = columnar.table_to_records(data) if not isinstance(data, list) else data
                data, stats[stage.label] = self._run_stage(k, i, stage, records, executor)
        if isinstance(data, list):
            data = records_to_table(data) if data else table.slice(0, 0)
        columnar.write_shard(data, commit[0].path(self.rundir.shard_path(k, i)))
        done = {"shard": i, "rows": data.num_rows, "stages": _dump(stats)}
        marker = json.dumps(done, indent=2, default=str) + "\n"
        commit[1].write_text(self.rundir.shard_marker(k, i), marker)

    def _pass_through(self, stage: Stage, data: pa.Table | list[Record]) -> StageStats:
        """A source whose process() keeps every row as it is: counted, not called."""
        n = len(data) if isinstance(data, list) else data.num_rows
        self.progress.advance(stage.label, n, n)
        return StageStats(rows_in=n, rows_out=n, batches=-(-n // stage.batch_size))

    def _run_stage_table(
        self, k: int, shard: int, stage: Stage, table: pa.Table, commit: Commit
    ) -> tuple[pa.Table, StageStats]:
        if table.num_rows and (reads := stage.reads()):
            require(
                f"stage {stage.label!r}",
                reads,
                columnar.column_names(table),
                "the rows reaching it",
            )
        ctx = self._ctx(stage, shard)
        start = time.perf_counter()
        with stage_errors(stage.label, shard):
            result = stage.process_table(table, ctx)
        n = table.num_rows
        stats = StageStats(rows_in=n, batches=-(-n // stage.batch_size))
        columnar.count_result(stats, result)
        stats.counters.update(ctx.counters)
        stats.seconds = stats.wall = time.perf_counter() - start
        self.progress.advance(stage.label, n, result.kept.num_rows)
        path = self.rundir.rejects_path(stage.label, k, shard)
        if result.rejected.num_rows:
            with open(commit.path(path), "wb") as fh:
                fh.writelines(columnar.reject_text(stage.label, result))
        else:
            commit.unlink(path)
        return result.kept, stats

    def _run_local(
        self, k: int, stages: list[Stage], executor: LocalExecutor | RayExecutor
    ) -> None:
        rd = self.rundir
        if rd.segment_marker(k).exists():
            self._replay(k)
            return
        if k > 0:
            self._check_segment(k)
        if getattr(executor, "runs_shards", False):
            self._run_shards_remote(k, stages, executor)  # type: ignore[arg-type]
        elif isinstance(executor, LocalExecutor) and _columnar_segment(k, stages):
            self._run_shards_columnar(k, stages, executor)
        else:
            for i, load in self._todo(k, stages):
                records = load()
                stats = {}
                for stage in stages:
                    records, stats[stage.label] = self._run_stage(k, i, stage, records, executor)
                self._write_shard(k, i, records, stats)
        done = [rd.read_json(m) for m in rd.shards_done(k)]
        merged = merge([d["stages"] for d in done], [s.label for s in stages])
        rows = sum(d["rows"] for d in done)
        rd.write_json(rd.segment_marker(k), {"rows": rows, "stages": _dump(merged)})

    def _todo(
        self, k: int, stages: list[Stage], tables: bool = False
    ) -> Iterator[tuple[int, Callable[[], Any]]]:
        """(index, loader) of each shard not finished yet; finished ones only show progress."""
        inputs = self._table_inputs(k, stages) if tables else self._inputs(k, stages)
        for i, load in enumerate(inputs):
            marker = self.rundir.shard_marker(k, i)
            if marker.exists():
                self._replay_marker(marker)
            else:
                yield i, load

    def _write_shard(
        self, k: int, i: int, records: list[Record], stats: dict[str, StageStats]
    ) -> None:
        rd = self.rundir
        write_records(rd.shard_path(k, i), records)
        done = {"shard": i, "rows": len(records), "stages": _dump(stats)}
        rd.write_json(rd.shard_marker(k, i), done)

    def _run_shards_remote(self, k: int, stages: list[Stage], executor: RayExecutor) -> None:
        """Shards as Ray tasks; their files, markers and rejects are written here as above."""
        todo = self._todo(k, stages)
        for i, result in executor.map_shards(stages, todo, self._ctx(stages[0])):
            for label, (rejected, stats) in result.stages.items():
                self._write_rejects(label, k, i, rejected)
                self.progress.advance(label, stats.rows_in, stats.rows_out)
            self._write_shard(k, i, result.records, {s: st for s, (_, st) in result.stages.items()})

    def _run_stage(
        self,
        k: int,
        shard: int,
        stage: Stage,
        records: list[Record],
        executor: LocalExecutor | RayExecutor,
    ) -> tuple[list[Record], StageStats]:
        check_batch(stage, records)  # the rows that reach it (after a user function, say)
        batches = list(chunks(records, stage.batch_size))
        ctxs = [self._ctx(stage, shard) for _ in batches]
        kept: list[Record] = []
        rejected: list[Record] = []
        stats = StageStats()
        start = time.perf_counter()
        for result in guard_stage(executor.map(stage, batches, ctxs), stage.label, shard):
            before = len(kept)
            for r in result.records:
                (rejected if r.rejected else kept).append(r)
            stats.add(_batch_stats(result.rows_in, result.records, result.seconds, result.counters))
            self.progress.advance(stage.label, result.rows_in, len(kept) - before)
        stats.wall = time.perf_counter() - start
        self._write_rejects(stage.label, k, shard, rejected)
        return kept, stats

    def _write_rejects(
        self, label: str, k: int, shard: int, rejected: list[Record] | list[dict[str, Any]]
    ) -> None:
        path = self.rundir.rejects_path(label, k, shard)
        if rejected:
            write_rejects(path, rejected)
        else:
            path.unlink(missing_ok=True)

    def _replay_marker(self, marker: Path) -> None:
        done = self.rundir.read_json(marker)
        for label, d in done["stages"].items():
            self.progress.advance(label, d["rows_in"], d["rows_out"])

    def _replay(self, k: int) -> None:
        self._replay_marker(self.rundir.segment_marker(k))

    # ---- global segments -----------------------------------------------------------------
    def _run_global(self, k: int, stage: GlobalStage) -> None:
        rd = self.rundir
        if rd.segment_marker(k).exists():
            self._replay(k)
            return
        self._check_segment(k)
        shutil.rmtree(rd.segment_dir(k), ignore_errors=True)
        label = stage.label
        paths = sorted(rd.segment_dir(k - 1).glob("shard-*.parquet"))
        on_read = lambda n: self.progress.advance(label, n, 0)  # noqa: E731 - rows in, as read
        use_tables = columnar.columnar_global(stage)
        inputs = ShardedTables(paths, on_read) if use_tables else ShardedRecords(paths, on_read)
        ctx = self._ctx(stage)
        start = time.perf_counter()
        stats = StageStats(batches=1)
        rejects = rd.rejects_path(label, k, 0)
        if isinstance(inputs, ShardedTables):
            self._global_tables(k, stage, inputs, ctx, stats)
        else:
            with rejects_writer(rejects) as reject:  # streamed, not held
                kept = _split(guard_stage(stage.process_all(inputs, ctx), label, 0), reject, stats)
                for i, chunk in enumerate(chunks(kept, self.pipeline.shard_size)):
                    write_records(rd.shard_path(k, i), chunk)
                    stats.rows_out += len(chunk)
                    self.progress.advance(label, 0, len(chunk))
        if not stats.rejected:
            rejects.unlink(missing_ok=True)
        stats.rows_in = inputs.count
        stats.seconds = stats.wall = time.perf_counter() - start
        stats.counters.update(ctx.counters)
        rows_out = stats.rows_out
        self.progress.advance(label, inputs.count - inputs.reported, 0)
        rd.write_json(
            rd.segment_marker(k), {"rows": rows_out, "stages": _dump({stage.label: stats})}
        )

    def _global_tables(
        self,
        k: int,
        stage: GlobalStage,
        inputs: ShardedTables,
        ctx: StageContext,
        stats: StageStats,
    ) -> None:
        """A global stage on tables: rejects streamed to their file, kept rows cut into
        shards committed at one flush (the segment marker is the commit point)."""
        rd, label = self.rundir, stage.label
        results = guard_stage(stage.process_tables(inputs, ctx), label, 0)
        with atomic_path(rd.rejects_path(label, k, 0)) as tmp, open(tmp, "wb") as fh:
            first, tables = shards.peek(_split_tables(results, label, fh.write, stats))
            size = self.pipeline.shard_size
            if first is not None:
                size = shards.output_rows(self.pipeline, plan(self.pipeline.stages), k, first)
            commit = Commit()
            for i, table in enumerate(columnar.rebatch(tables, size)):
                columnar.write_shard(table, commit.path(rd.shard_path(k, i)))
                stats.rows_out += table.num_rows
                self.progress.advance(label, 0, table.num_rows)
            commit.flush()


class ShardedRecords:
    """The records of many shard files, re-iterable, read one shard at a time."""

    def __init__(self, paths: list[Path], on_read: Callable[[int], None] | None = None) -> None:
        self.paths = paths
        self.count = 0
        self.reported = 0  # rows given to on_read: each row once, however many passes
        self.on_read = on_read

    def __iter__(self) -> Iterator[Record]:
        self.count = 0
        for path in self.paths:
            records = read_records(path)
            new = self.count + len(records) - self.reported
            if new > 0 and self.on_read is not None:
                self.on_read(new)
                self.reported += new
            for record in records:
                self.count += 1
                yield record


class ShardedTables(ShardedRecords):
    """The shards of a segment as tables, re-iterable, read one shard at a time;
    `select(columns)` reads only those columns (a pass that needs only the text)."""

    def __init__(
        self,
        paths: list[Path],
        on_read: Callable[[int], None] | None = None,
        columns: list[str] | None = None,
    ) -> None:
        super().__init__(paths, on_read)
        self.columns = columns

    def select(self, columns: list[str]) -> ShardedTables:
        return _Selected(self, columns)

    def __iter__(self) -> Iterator[pa.Table]:
        self.count = 0
        for path in self.paths:
            table = columnar.shard_table(path, self.columns)
            self.count += table.num_rows
            new = self.count - self.reported
            if new > 0 and self.on_read is not None:
                self.on_read(new)
                self.reported += new
            yield table


class _Selected(ShardedTables):
    """Some columns of the shards; rows read count for the tables it came from."""

    def __init__(self, whole: ShardedTables, columns: list[str]) -> None:
        super().__init__(whole.paths, None, columns)
        self.whole = whole

    def __iter__(self) -> Iterator[pa.Table]:
        count = 0
        for table in super().__iter__():
            count += table.num_rows
            new = count - self.whole.reported
            if new > 0 and self.whole.on_read is not None:
                self.whole.on_read(new)
                self.whole.reported += new
            yield table
        self.whole.count = max(self.whole.count, count)


def _same(table: pa.Table) -> pa.Table:
    return table


def _columnar_segment(k: int, stages: list[Stage]) -> bool:
    """Whether a local segment starts on tables: its first stage that does work takes
    them (a source reads tables only when the stage after it can take them)."""
    first = stages[0]
    if k > 0:
        return columnar.columnar_step(first)
    assert isinstance(first, Source)
    if not columnar.columnar_source(first):
        return False
    return len(stages) == 1 or columnar.columnar_step(stages[1])


def _split_tables(
    results: Iterable[columnar.TableResult],
    label: str,
    reject: Callable[[pa.Buffer], Any],
    stats: StageStats,
) -> Iterator[pa.Table]:
    """The kept tables; rejected rows' lines go to `reject`, and are counted in `stats`."""
    for result in results:
        kept = result.kept.num_rows
        columnar.count_result(stats, result)
        stats.rows_out -= kept  # rows out are counted as the shards are written
        if result.rejected.num_rows:
            for text in columnar.reject_text(label, result):
                reject(text)
        yield result.kept


def _split(
    records: Iterable[Record], reject: Callable[[Record], None], stats: StageStats
) -> Iterator[Record]:
    """The kept records; rejected ones go to `reject` and are counted in `stats`."""
    for r in records:
        if r.meta.rejection is not None:
            reject(r)
            stats.rejected[r.meta.rejection.reason] += 1
            stats.transient += int(r.meta.rejection.transient)
        else:
            yield r


def _batch_stats(
    rows_in: int, out: list[Record], seconds: float, counters: dict[str, int]
) -> StageStats:
    stats = StageStats(rows_in=rows_in, seconds=seconds, batches=1)
    stats.counters.update(counters)
    for r in out:
        if r.meta.rejection is not None:
            stats.rejected[r.meta.rejection.reason] += 1
            stats.transient += int(r.meta.rejection.transient)
        else:
            stats.rows_out += 1
    return stats


def _dump(stats: dict[str, StageStats]) -> dict[str, Any]:
    return {label: s.to_dict() for label, s in stats.items()}
