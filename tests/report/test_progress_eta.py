"""Progress at scale (issue 17): every stage, global ones included, shows rows/s and an ETA,
also when the output is a pipe; later stages' totals are estimated from the stages before."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from synthmill.cli.progress import RichProgress
from tests.helpers import curation_config


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_totals_are_estimated_from_the_stages_before_and_eta_follows_the_rate() -> None:
    out, clock = io.StringIO(), Clock()
    progress = RichProgress(Console(file=out), interval=3600, lines=True, clock=clock)
    with progress:
        progress.stage_started("read", 1000)
        progress.stage_started("filter", None)
        progress.stage_started("dedup", None)
        assert progress.expected("filter") is None  # nothing seen yet: no guess
        clock.now = 10.0
        progress.advance("read", 200, 200)
        clock.now = 12.0
        progress.advance("filter", 200, 100)  # keeps half so far
        assert progress.expected("filter") == 1000 and progress.expected("dedup") == 500
        progress.emit()
        clock.now = 20.0
        progress.advance("read", 800, 800)
        progress.advance("filter", 800, 500)  # done: 600 of 1000 kept, exactly
        assert progress.expected("dedup") == 600
        clock.now = 30.0
        progress.advance("dedup", 300, 0)  # a global stage that began at t=20
        progress.emit()
    lines = out.getvalue().splitlines()
    # read: 200 rows from the run start to its last progress (10 s); 800 left: 40 s
    assert "progress read: 200/1,000 rows in, 200 kept, 20 rows/s, eta 0:00:40" in lines[3]
    # filter began when read's first rows were ready (t=10): 200 in 2 s, 800 left: 8 s
    assert "progress filter: 200/1,000 rows in, 100 kept, 100 rows/s, eta 0:00:08" in lines[4]
    # dedup began at t=20 (the last progress before its first): 300 in 10 s, 300 left
    assert "progress dedup: 300/600 rows in, 0 kept, 30 rows/s, eta 0:00:10" in lines[-4]
    assert lines[-1].endswith("done dedup: 300/600 rows in, 0 kept, 30 rows/s, 0:00:10 elapsed")


@pytest.mark.slow
def test_a_piped_run_shows_rate_and_eta_for_every_stage_the_global_one_too(
    tmp_path: Path,
) -> None:
    config = curation_config(tmp_path, "eta", 8000, 50)
    rows = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(config))
    repo = Path(__file__).resolve().parents[2]
    env = os.environ | {"SYNTHMILL_PROGRESS_SECONDS": "0.05", "PYTHONPATH": str(repo / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "synthmill", "run", str(tmp_path / "p.yaml")],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    kept = sum(1 for r in rows if len(r["text"].split()) >= 2)
    line = (
        r"\] progress {}: ([\d,]+)/([\d,]+) rows in, [\d,]+ kept, [\d.,]+ rows/s, eta \d+:\d\d:\d\d"
    )
    for stage, total in (("read", 8000), ("filter.length", None), ("dedup.exact", kept)):
        ticks = re.findall(line.format(re.escape(stage)), done.stderr)
        assert ticks, f"no progress line with a rate and an ETA for {stage}:\n{done.stderr}"
        if total is not None:  # dedup.exact's total is filter.length's output, exactly
            assert {int(t.replace(",", "")) for _, t in ticks} == {total}, stage
    assert f"done dedup.exact: {kept:,}/{kept:,} rows in" in done.stderr
