"""`synthmill report` on a 100k-row run: seconds and size, against the direct path.

    .venv/bin/python bench/report.py                     # writes bench/results/report.json
    .venv/bin/python bench/report.py --screenshot RUN_DIR   # also bench/results/report.png

The run is 100,000 rows from `sample` (a category, an integer and a ~500-character text
column). The direct path is what a report cannot do without: reading the published
Parquet and `synthmill measure`'s lexical metrics on the same 1,000-row sample; the
ratio (of CPU seconds: the machine is shared) says what the rest of the report
(profiles, hashed-embedding metrics, rejects, browser, HTML) costs on top.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._machine import machine
from synthmill import Pipeline
from synthmill.measure import diversity
from synthmill.report import build_report
from synthmill.report.extra import DIVERSITY_ROWS, _sample
from synthmill.report.load import read_data

RESULTS = Path(__file__).resolve().parent / "results"


def make_run(out: Path, rows: int) -> None:
    text = "{{ topic }} and more words about it " * 14 + "{{ n }}"
    config = {
        "name": "bench-report",
        "seed": 1,
        "shard_size": 25_000,
        "stages": [{"use": "sample", "n": rows, "columns": {
            "topic": ["bees", "tides", "glaciers", "clouds"],
            "n": {"type": "integer", "low": 0, "high": 10**9},
            "text": text}}],
        "output": {"dir": str(out)},
    }  # fmt: skip
    Pipeline.from_config(config).run()


def direct(run: Path) -> tuple[float, float]:
    started, cpu = time.perf_counter(), time.process_time()
    table = read_data(run)
    assert table is not None
    texts = [str(r["text"]) for r in _sample(table, ["text"], DIVERSITY_ROWS, 0)]
    diversity.lexical(texts, 300, 0)
    return time.perf_counter() - started, time.process_time() - cpu


def measure(rows: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        make_run(run, rows)
        base, base_cpu = direct(run)
        started, cpu = time.perf_counter(), time.process_time()
        path = build_report(run)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        return {
            "rows": rows,
            "report_seconds": round(seconds, 2),
            "report_cpu_seconds": round(cpu, 2),
            "direct_seconds": round(base, 2),
            "direct_cpu_seconds": round(base_cpu, 2),
            "report_over_direct_cpu": round(cpu / base_cpu, 2),
            "report_mb": round(path.stat().st_size / 1e6, 3),
        }


def screenshot(run: Path, png: Path) -> None:
    """The report of `run` as Chromium draws it (the README's picture)."""
    page = build_report(run, Path(tempfile.mkdtemp()) / "report.html")
    binary = shutil.which("chromium") or shutil.which("chromium-headless-shell")
    if binary is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--disable-background-networking", "--no-first-run", "--window-size=1280,1500",
         f"--user-data-dir={tempfile.mkdtemp()}", f"--screenshot={png}", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--screenshot", type=Path, help="Run directory to photograph.")
    args = parser.parse_args()
    if args.screenshot is not None:
        screenshot(args.screenshot, RESULTS / "report.png")
        print(f"wrote {RESULTS / 'report.png'}")
        return
    result = {"machine": machine(), "case": measure(args.rows)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "report.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["case"], indent=2))


if __name__ == "__main__":
    main()
