"""What the trust checks cost: input validation and fingerprints against a run without them.

    .venv/bin/python bench/preflight.py         # writes bench/results/preflight.json

A JSONL file is read into a run directory (read -> publish) with every check on (each
line parsed and typed, the file hashed before the run and again before publishing), and
the same run with the checks patched out, in the same process, alternating; the ratio
of the medians is the price of refusing bad or changed input before writing anything.
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
from synthmill import Output, Pipeline
from synthmill.pipeline import publish, runner
from synthmill.pipeline.preflight import preflight
from synthmill.pipeline.rundir import RunDir
from synthmill.sources.read import Read

ROWS = 200_000
REPEATS = 3


def make_input(path: Path) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(ROWS):
            row = {"text": f"row {i} " + "some words of text " * 4, "n": i, "ok": i % 2 == 0}
            fh.write(json.dumps(row) + "\n")


PATCHED: dict[tuple[object, str], object] = {
    (runner, "preflight"): lambda p, rd: {},
    (publish, "check_inputs_unchanged"): lambda rd, p: None,
}


def timed_run(data: Path, checks: bool) -> float:
    saved = {key: getattr(*key) for key in PATCHED}
    if not checks:
        for (module, name), stub in PATCHED.items():
            setattr(module, name, stub)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            pipeline = Pipeline(
                shard_size=50_000,
                stages=[Read(path=str(data))],
                output=Output(dir=Path(tmp) / "run"),
                cache=False,
            )
            start = time.perf_counter()
            pipeline.run()
            return time.perf_counter() - start
    finally:
        for (module, name), value in saved.items():
            setattr(module, name, value)


def timed_preflight(data: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(stages=[Read(path=str(data))], output=Output(dir=Path(tmp) / "r"))
        start = time.perf_counter()
        preflight(pipeline, RunDir(pipeline.output.dir))
        return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "in.jsonl"
        make_input(data)
        size_mb = data.stat().st_size / 1e6
        with_checks, without = [], []
        for _ in range(REPEATS):  # alternate, so a busy moment hits both
            with_checks.append(timed_run(data, True))
            without.append(timed_run(data, False))
        alone = statistics.median(timed_preflight(data) for _ in range(REPEATS))
    full, bare = statistics.median(with_checks), statistics.median(without)
    result = {
        "benchmark": "preflight",
        "rows": ROWS,
        "input_mb": round(size_mb, 1),
        "repeats": REPEATS,
        "method": "read JSONL -> run dir; medians; with checks vs checks patched out",
        "run_with_checks_seconds": round(full, 3),
        "run_without_checks_seconds": round(bare, 3),
        "ratio_with_to_without": round(full / bare, 3),
        "preflight_alone_seconds": round(alone, 3),
        "preflight_mb_per_second": round(size_mb / alone, 1),
        "machine": machine(),
    }
    out = Path(__file__).parent / "results" / "preflight.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
