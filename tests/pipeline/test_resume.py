"""Kill -9 a real run at random moments, resume it, and compare with a clean run row by row."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from tests.conftest import REPO

CLI = [sys.executable, "-m", "synthmill"]


def write_config(tmp: Path, out: str) -> Path:
    config = {
        "name": "resume-test",
        "seed": 11,
        "shard_size": 10,
        "stages": [
            {"use": "range", "n": 240},
            {
                "use": "map",
                "function": "tests.pipeline.steps:make_text",
                "executor": "process",
                "concurrency": 2,
                "batch_size": 4,
            },
            {"use": "filter.length", "min_words": 2},
            {"use": "map", "function": "tests.pipeline.steps:slow", "batch_size": 5},
            {"use": "dedup.exact"},
            {"use": "map", "function": "tests.pipeline.steps:tag", "concurrency": 2},
        ],
        "output": {"dir": str(tmp / out)},
    }
    path = tmp / f"{out}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "SYNTHMILL_TEST_SLEEP": "0.03"}


def rows(run_dir: Path) -> list[dict[str, object]]:
    files = sorted((run_dir / "data").glob("*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def markers(run_dir: Path) -> dict[str, tuple[int, int]]:
    """Finished-shard markers with their inode and mtime: unchanged means not redone."""
    found = sorted((run_dir / "work").glob("seg-*/*.done.json"))
    return {str(p.relative_to(run_dir)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in found}


def progress_files(run_dir: Path) -> int:
    """How far a run got: finished-shard and finished-segment markers written so far."""
    work = run_dir / "work"
    return len(list(work.glob("seg-*/*.json"))) if work.exists() else 0


def run_and_kill_at(cfg: Path, run_dir: Path, target: int, delay: float) -> bool:
    """Start a run, wait until `target` markers exist, sleep `delay`, kill -9 the group.

    Returns whether the kill landed before the run finished by itself.
    """
    proc = subprocess.Popen(
        [*CLI, "run", str(cfg)],
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    while proc.poll() is None and progress_files(run_dir) < target:
        time.sleep(0.01)
    time.sleep(delay)
    killed = proc.poll() is None
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return killed


@pytest.mark.slow
def test_kill_and_resume_gives_the_clean_rows(tmp_path: Path) -> None:
    clean_cfg = write_config(tmp_path, "clean")
    subprocess.run([*CLI, "run", str(clean_cfg)], env=env(), check=True, capture_output=True)
    clean = rows(tmp_path / "clean")
    assert len(clean) > 100
    total = progress_files(tmp_path / "clean")

    cfg = write_config(tmp_path, "killed")
    run_dir = tmp_path / "killed"
    rng = random.Random(2024)
    targets = sorted(rng.sample(range(1, total), 5))  # random points spread over all phases
    kills = 0
    seen: dict[str, tuple[int, int]] = {}
    for target in targets:
        kills += run_and_kill_at(cfg, run_dir, target, rng.uniform(0.0, 0.08))
        now = markers(run_dir)
        assert {k: now[k] for k in seen} == seen, "a finished shard was written again"
        seen = now
    assert kills >= 3, "the run finished before it could be killed; slow the stages down"

    done = subprocess.run([*CLI, "run", str(cfg)], env=env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert rows(run_dir) == clean
    assert not list(run_dir.rglob(".*.tmp")), "temp files left behind"
