"""Progress off a terminal: a line per stage every interval, not silence until the end."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from synthmill.cli.progress import RichProgress


def test_lines_every_interval_when_not_a_terminal() -> None:
    out = io.StringIO()
    with RichProgress(Console(file=out, force_terminal=False), interval=0.1) as progress:
        progress.stage_started("gen", 100)
        for _ in range(5):
            progress.advance("gen", 10, 7)
            time.sleep(0.08)
        time.sleep(0.25)  # a stall: said so, not silence
    lines = out.getvalue().splitlines()
    assert any(x.endswith("working: no new rows in the last 0.1 s") for x in lines)
    assert lines[0].endswith("stage gen started (100 rows expected)")
    ticks = [x for x in lines if " progress gen: " in x]
    assert len(ticks) >= 2  # about 0.4 s of work at 0.1 s
    assert re.search(r"done gen: 50/100 rows in, 35 kept, [\d.]+ rows/s", lines[-1])


def test_no_lines_on_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with RichProgress(console, interval=0.05) as progress:
        progress.stage_started("gen", 10)
        progress.advance("gen", 10, 10)
        time.sleep(0.15)
    assert "progress gen:" not in out.getvalue() and "10/10" in out.getvalue()


@pytest.mark.slow
def test_a_run_in_a_pipe_prints_progress(tmp_path: Path) -> None:
    config = {
        "name": "slow",
        "seed": 1,
        "shard_size": 4,
        "stages": [
            {"use": "sample", "n": 16, "columns": {"topic": ["a", "b"]}},
            {"use": "generate", "prompt": "about {{ topic }}", "output": "q",
             "backend": {"type": "fake", "function": "tests.report.replies:slow_question"}},
        ],
        "output": {"dir": str(tmp_path / "out")},
    }  # fmt: skip
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(config))
    repo = Path(__file__).resolve().parents[2]
    env = os.environ | {"SYNTHMILL_PROGRESS_SECONDS": "0.3", "PYTHONPATH": str(repo)}
    done = subprocess.run(
        [sys.executable, "-m", "synthmill", "run", str(tmp_path / "p.yaml")],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ticks = re.findall(r"\] progress generate: (\d+)/16 rows in", done.stderr)
    assert len(ticks) >= 2 and int(ticks[0]) < 16  # lines while it ran, not only at the end
    assert "done generate: 16/16 rows in, 16 kept" in done.stderr  # total: sample's 16
