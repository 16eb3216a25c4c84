"""Engine throughput on a trivial CPU stage (rows/s) and the runner's overhead per batch.

    .venv/bin/python bench/engine.py            # writes bench/results/engine.json
    .venv/bin/python bench/engine.py curation   # only the "curation" entry (issue 17)

Each configuration runs a full pipeline (range -> map -> publish) into a fresh run dir,
so times include checkpointing, Parquet writes and the card. The per-batch overhead is
the slope of wall time against the number of batches at a fixed row count.

`curation` runs read -> filter.length -> dedup.exact -> publish on a generated JSONL of
CURATION_ROWS rows (3-60 random words, a fifth of them repeats), each run in its own
process for its peak RSS, with this tree's synthmill and with the synthmill of a git
revision (BEFORE, default the commit before issue 17's publish/progress/memory change,
unpacked with `git archive`): wall, rows/s, peak RSS, files in data/. It also reads a
1M-row Parquet file through synthmill's reader with pyarrow's pre_buffer on and off.
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import subprocess
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


CURATION_ROWS = int(os.environ.get("BENCH_CURATION_ROWS", 500_000))
PARQUET_ROWS = int(os.environ.get("BENCH_PARQUET_ROWS", 1_000_000))
BEFORE = os.environ.get("BENCH_BEFORE", "66da820")  # the commit before issue 17's change
WORDS = [f"w{i}" for i in range(5000)]


def write_corpus(path: Path, rows: int, seed: int = 0) -> None:
    """rows JSON lines of 3-60 random words; a fifth repeat an earlier line (for dedup)."""
    rng = random.Random(seed)
    texts: list[str] = []
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(rows):
            if texts and rng.random() < 0.2:
                text = texts[rng.randrange(len(texts))]
            else:
                text = " ".join(rng.choices(WORDS, k=rng.randint(3, 60)))
                if len(texts) < 50_000:
                    texts.append(text)
            fh.write(json.dumps({"id": i, "text": text}) + "\n")


def child_run(src: str, out: str) -> dict[str, object]:
    """One curation run in this process (which the parent started for its peak RSS)."""
    config = {
        "name": "curation",
        "seed": 0,
        "shard_size": 1000,
        "cache": False,
        "stages": [
            {"use": "read", "path": src},
            {"use": "filter.length", "min_words": 10},
            {"use": "dedup.exact"},
        ],
        "output": {"dir": out},
    }
    start = time.perf_counter()
    result = Pipeline.from_config(config).run()
    wall = time.perf_counter() - start
    return {"wall_s": round(wall, 2), "rows_out": result.rows, **_files(Path(out) / "data")}


def child_read(path: str, how: str) -> dict[str, object]:
    """Stream a Parquet file through synthmill's reader with pyarrow's defaults (`default`),
    pre_buffer off (`no_pre_buffer`), or synthmill's own setting (`synthmill`)."""
    import pyarrow.parquet as pq

    from synthmill.io import rows

    if how == "default":
        rows._parquet = lambda p: pq.ParquetFile(p)  # type: ignore[assignment]
    elif how == "no_pre_buffer":
        rows._parquet = lambda p: pq.ParquetFile(p, pre_buffer=False)  # type: ignore[assignment]
    start = time.perf_counter()
    n = sum(1 for _ in rows.read_rows(Path(path), "parquet"))
    return {"rows": n, "wall_s": round(time.perf_counter() - start, 2)}


def _files(data: Path) -> dict[str, object]:
    files = sorted(data.iterdir())
    return {
        "files": len(files),
        "largest_file_mb": round(max(f.stat().st_size for f in files) / 2**20, 1),
    }


def _child(args: list[str], pythonpath: str) -> dict[str, object]:
    env = os.environ | {"PYTHONPATH": pythonpath}
    cmd = [sys.executable, __file__, "child", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def curation() -> dict[str, object]:
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        before.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(repo), "archive", BEFORE, "src"], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
        corpus = Path(tmp) / "corpus.jsonl"
        write_corpus(corpus, CURATION_ROWS)
        trees = {"before": str(before / "src"), "after": str(repo / "src")}
        runs = {
            name: _child(["run", str(corpus), str(Path(tmp) / f"run-{name}")], path)
            for name, path in trees.items()
        }
        for r in runs.values():
            r["rows_per_second"] = round(CURATION_ROWS / float(r["wall_s"]))  # type: ignore[arg-type]
        parquet = Path(tmp) / "rows.parquet"
        _child(["parquet", str(parquet)], trees["after"])
        reads = {
            how: _child(["read", str(parquet), how], trees["after"])
            for how in ("default", "no_pre_buffer", "synthmill")
        }
    a, b = runs["after"], runs["before"]
    ra, rb = reads["synthmill"], reads["default"]
    return {
        "what": f"read {CURATION_ROWS:,} JSONL rows -> filter.length min_words 10 -> "
        "dedup.exact -> publish; shard_size 1000; each run in its own process",
        "before_revision": BEFORE,
        "note": "before and after run one after the other on this machine: with other work "
        "on it the wall ratio is noisy; rows_out, files and peak RSS are not",
        "runs": runs,
        "after_vs_before": {
            "wall": round(float(a["wall_s"]) / float(b["wall_s"]), 3),  # type: ignore[arg-type]
            "peak_rss": round(float(a["peak_rss_mb"]) / float(b["peak_rss_mb"]), 3),  # type: ignore[arg-type]
            "files": f"{a['files']} vs {b['files']}",
        },
        "parquet_read": {
            "what": f"synthmill's Parquet reader streaming {PARQUET_ROWS:,} rows "
            "(corpus-like rows, one row group) into dicts: pyarrow's defaults, pre_buffer off, "
            "and synthmill's reader (pre_buffer off, 1 MiB read buffer)",
            **reads,
            "peak_rss_synthmill_vs_default": round(
                float(ra["peak_rss_mb"]) / float(rb["peak_rss_mb"]), 3
            ),  # type: ignore[arg-type]
        },
        "machine": machine(),
    }


def child_parquet(path: str) -> dict[str, object]:
    """A 1M-row Parquet file of corpus-like rows, written in one row group."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(1)
    texts = [" ".join(rng.choices(WORDS, k=rng.randint(3, 60))) for _ in range(PARQUET_ROWS)]
    table = pa.table({"id": pa.array(range(PARQUET_ROWS)), "text": texts})
    pq.write_table(table, path, row_group_size=PARQUET_ROWS)
    return {"bytes": Path(path).stat().st_size}


def child(args: list[str]) -> None:
    kind, *rest = args
    if kind == "run":
        out = child_run(rest[0], rest[1])
    elif kind == "read":
        out = child_read(rest[0], rest[1])
    else:
        out = child_parquet(rest[0])
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out))


def main() -> None:
    if sys.argv[1:2] == ["child"]:
        child(sys.argv[2:])
        return
    out = Path(__file__).parent / "results" / "engine.json"
    if sys.argv[1:2] == ["curation"]:
        result = json.loads(out.read_text()) if out.exists() else {"benchmark": "engine"}
        result["curation"] = curation()
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result["curation"], indent=2))
        return
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
    if out.exists() and "curation" in json.loads(out.read_text()):
        result["curation"] = json.loads(out.read_text())["curation"]  # run apart, kept
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
