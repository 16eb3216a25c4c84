"""The columnar forms of filter.quality, filter.language, decontaminate and the sample
source against their row path (issue 17), each run in its own process on the same input.

    flock /work/coord/bench.lock .venv/bin/python bench/curation_stages.py [ROWS]

read (or sample) -> the stage -> publish on ROWS (100k) generated rows: a few lines of
English-like sentences, some junk (spam, lorem ipsum, braces), 2% with a HumanEval prompt
pasted in. Each stage runs with SYNTHMILL_ROW_PATH=1 and without; wall and CPU seconds,
peak RSS, and whether the published rows and provenance are the same (a digest of the
data files' rows). Writes the "curation_stages" entry of bench/results/engine.json (the
entries bench/engine.py writes are kept).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow.parquet as pq

from bench._machine import machine
from synthmill import Pipeline

ROWS = int(sys.argv[1]) if sys.argv[1:2] and sys.argv[1].isdigit() else 100_000
_WORDS = (
    "the of and to in a is that with for on as by be at this have from or one had not but "
    "what all were when we there can an your which their said if do will each about how up "
    "out them then she many some so these would other into has more her two like him see "
    "time could no make than first been its who now people my made over did down only way "
    "find use may water long little very after words called just where most know river "
    "mountain garden library committee tuesday agreed fund"
)
VOCAB = _WORDS.split()


def write_corpus(path: Path, rows: int, seed: int = 1) -> None:
    from synthmill.curate.benchmarks import Benchmark

    items = [i.text for i in Benchmark(name="humaneval").items()]
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(rows):
            left, lines = rng.randint(3, 120), []
            while left > 0:
                n = min(left, rng.randint(4, 25))
                left -= n
                end = rng.choice([".", ".", "!", "", "..."])
                lines.append(" ".join(rng.choices(VOCAB, k=n)).capitalize() + end)
            text = "\n".join(lines)
            r = rng.random()
            if r < 0.03:
                text = "click here " * rng.randint(3, 20)
            elif r < 0.05:
                text = "Lorem ipsum " + text
            elif r < 0.06:
                text = "{" + text
            elif r < 0.08:
                text += "\n" + rng.choice(items)
            fh.write(json.dumps({"id": f"r{i}", "text": text}) + "\n")


def stages(src: str, which: str, rows: int) -> list[dict[str, object]]:
    read: dict[str, object] = {"use": "read", "path": src}
    sample: dict[str, object] = {
        "use": "sample",
        "n": rows,
        "columns": {
            "topic": ["volcanoes", "tides", "bees"],
            "age": {"type": "integer", "low": 18, "high": 80},
            "text": "A learner of {{ age }} asks about {{ topic }}.",
        },
    }
    by_stage: dict[str, list[dict[str, object]]] = {
        "filter.quality": [read, {"use": "filter.quality"}],
        "filter.language": [read, {"use": "filter.language", "languages": ["en"]}],
        "decontaminate": [read, {"use": "decontaminate"}],
        "sample": [sample, {"use": "filter.length", "min_words": 3}],
    }
    return by_stage[which]


def child(src: str, which: str, out: str, rows: str) -> None:
    config = {"name": "b", "seed": 1, "cache": False, "stages": stages(src, which, int(rows))}
    config["output"] = {"dir": out}
    start = time.perf_counter()
    result = Pipeline.from_config(config).run()
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)  # the run's, not the digest's below
    digest = hashlib.sha256()
    for f in sorted((Path(out) / "data").glob("*.parquet")):
        for batch in pq.ParquetFile(f).iter_batches(batch_size=8192):
            for row in batch.to_pylist():
                digest.update(json.dumps(row, sort_keys=True, default=str).encode())
    print(
        json.dumps(
            {
                "wall_s": round(wall, 2),
                "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
                "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
                "rows_out": result.rows,
                "data_sha256": digest.hexdigest()[:16],
            }
        )
    )


def run(src: str, which: str, out: str, row_path: bool) -> dict[str, object]:
    env = dict(os.environ)
    env.pop("SYNTHMILL_ROW_PATH", None)
    if row_path:
        env["SYNTHMILL_ROW_PATH"] = "1"
    cmd = [sys.executable, __file__, "child", src, which, out, str(ROWS)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise SystemExit(f"{which} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    if sys.argv[1:2] == ["child"]:
        child(*sys.argv[2:6])
        return
    found: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "corpus.jsonl"
        write_corpus(src, ROWS)
        for which in ("filter.quality", "filter.language", "decontaminate", "sample"):
            rows = run(str(src), which, f"{tmp}/{which}-rows", row_path=True)
            cols = run(str(src), which, f"{tmp}/{which}-columns", row_path=False)
            found[which] = {
                "row_path": rows,
                "columnar": cols,
                "same_rows_and_provenance": rows["data_sha256"] == cols["data_sha256"],
                "speedup_wall": round(float(rows["wall_s"]) / float(cols["wall_s"]), 2),  # type: ignore[arg-type]
                "speedup_cpu": round(float(rows["cpu_s"]) / float(cols["cpu_s"]), 2),  # type: ignore[arg-type]
            }
            print(which, json.dumps(found[which]), flush=True)
    entry = {
        "what": f"read {ROWS:,} JSONL rows (English-like lines, 8% junk, 2% with a HumanEval "
        "prompt) -> one stage -> publish, each stage on the row path (SYNTHMILL_ROW_PATH=1) "
        f"and the columnar path; sample: {ROWS:,} drawn rows -> filter.length; each run in "
        "its own process",
        "note": "a shared 2-core machine: wall times move with the load, CPU seconds less",
        "stages": found,
        "machine": machine(),
    }
    out = Path(__file__).parent / "results" / "engine.json"
    result = json.loads(out.read_text()) if out.exists() else {"benchmark": "engine"}
    result["curation_stages"] = entry
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
