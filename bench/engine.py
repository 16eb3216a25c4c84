"""Engine throughput on a trivial CPU stage (rows/s) and the runner's overhead per batch.

    .venv/bin/python bench/engine.py            # writes bench/results/engine.json

Each configuration runs a full pipeline (range -> map -> publish) into a fresh run dir,
so times include checkpointing, Parquet writes and the card. The per-batch overhead is
the slope of wall time against the number of batches at a fixed row count.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._machine import machine
from synthmill import Output, Pipeline, Record, StageContext
from synthmill.pipeline.function import FunctionStage
from synthmill.sources.range import Range

ROWS = 100_000
SHARD = 10_000
REPEATS = 3


def square(batch: list[Record], ctx: StageContext) -> list[Record]:
    """The trivial CPU stage: one new column per row."""
    return [r.with_data(square=r.data["index"] ** 2) for r in batch]


def timed_run(batch_size: int, executor: str = "thread", concurrency: int = 1) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(
            seed=0,
            shard_size=SHARD,
            stages=[
                Range(n=ROWS),
                FunctionStage(
                    function=square,
                    batch_size=batch_size,
                    executor=executor,
                    concurrency=concurrency,
                ),
            ],
            output=Output(dir=Path(tmp) / "run"),
            cache=False,
        )
        start = time.perf_counter()
        pipeline.run()
        return time.perf_counter() - start


def best(fn: object, *args: object) -> float:
    return min(fn(*args) for _ in range(REPEATS))  # type: ignore[operator]


def baseline() -> float:
    """The same work without the engine: make records and call the function directly."""
    start = time.perf_counter()
    records = [Record.new({"index": i}, key=i, stage="range") for i in range(ROWS)]
    square(records, StageContext(seed=0, stage="square"))
    return time.perf_counter() - start


def main() -> None:
    sizes = [10, 100, 1000, 10_000]
    by_size = {b: best(timed_run, b) for b in sizes}
    batches = [ROWS / b for b in sizes]
    times = [by_size[b] for b in sizes]
    slope = statistics.linear_regression(batches, times).slope
    result = {
        "benchmark": "engine",
        "rows": ROWS,
        "shard_size": SHARD,
        "repeats": REPEATS,
        "method": "best of repeats; full pipeline incl. checkpoint, Parquet, card",
        "rows_per_second_by_batch_size": {str(b): round(ROWS / t) for b, t in by_size.items()},
        "overhead_per_batch_ms": round(slope * 1000, 4),
        "baseline_without_engine_rows_per_second": round(ROWS / best(baseline)),
        "threads_4_batch_1000_rows_per_second": round(ROWS / best(timed_run, 1000, "thread", 4)),
        "processes_2_batch_1000_rows_per_second": round(ROWS / best(timed_run, 1000, "process", 2)),
        "machine": machine(),
    }
    out = Path(__file__).parent / "results" / "engine.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
