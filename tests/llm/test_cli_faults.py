"""`synthmill run` against a dead backend (exit 2) and a flaky one (exit 3, then 0)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.llm.faults import fault_server

pytestmark = pytest.mark.slow


def _config(tmp: Path, base_url: str, rows: int = 5) -> Path:
    data = tmp / "prompts.jsonl"
    lines = [json.dumps({"instruction": f"row {i}: say hi"}) for i in range(rows)]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    backend = {"type": "openai", "model": "m", "base_url": base_url, "timeout": 1.0}
    backend.update(max_retries=2, backoff=0.05)
    config: dict[str, Any] = {
        "backend": backend,
        "stages": [{"use": "read", "path": str(data)}, {"use": "distill", "max_tokens": 32}],
        "output": {"dir": str(tmp / "run")},
    }
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "synthmill", "run", str(config), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=os.environ)


def test_help_states_the_exit_codes() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "synthmill", "run", "--help"], capture_output=True, text=True
    )
    assert "max_failed_share" in done.stdout and "3 more than" in " ".join(done.stdout.split())


def test_dead_backend_is_exit_2_in_one_line_within_seconds(tmp_path: Path) -> None:
    start = time.monotonic()
    done = _run(_config(tmp_path, "http://127.0.0.1:9/v1"))
    assert time.monotonic() - start < 20
    assert done.returncode == 2, done.stderr
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert errors == [done.stderr.strip().splitlines()[-1]]  # one error line, the last
    assert errors[0].startswith("error: backend openai (stages.1.backend) unreachable at")
    assert "Connection refused" in errors[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()  # nothing written


def test_too_many_transient_failures_exit_3_then_a_rerun_retries_them(tmp_path: Path) -> None:
    plan: dict[int | str, list[str]] = {1: ["500"] * 3}
    with fault_server(plan) as server:
        config = _config(tmp_path, server.base_url)
        first = _run(config)
        assert first.returncode == 3, first.stderr
        (line,) = [ln for ln in first.stderr.splitlines() if ln.startswith("error:")]
        assert "1 of 5 rows" in line and "max_failed_share=0.05" in line
        assert len(list((tmp_path / "run" / "data").glob("*.parquet"))) == 1  # written anyway
        calls = [server.calls(i) for i in range(5)]
        second = _run(config, "--set", "max_failed_share=0.5")  # resumes: not a new config
        assert second.returncode == 0, second.stderr
        calls[1] += 1  # only the failed row was asked again (the others: from the cache)
        assert [server.calls(i) for i in range(5)] == calls
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert stats["rows"] == 5 and stats["stages"]["distill"]["rejected_transient"] == 0
