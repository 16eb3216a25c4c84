"""The command line refuses a broken `generate`/`sample` pipeline before any model call:
exit 2 and one line naming the problem (a subprocess, as a user meets it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow
BACKEND = {"type": "fake", "function": "tests.recipes.gen_replies:recording"}
GOOD = {"use": "generate", "prompt": "Ask about {{ topic }}", "output": "question"}


def run(tmp_path: Path, *stages: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    src = tmp_path / "topics.jsonl"
    src.write_text('{"topic": "tides", "level": "expert"}\n{"topic": "bees", "level": "new"}\n')
    config = {
        "name": "t",
        "backend": BACKEND,
        "stages": [{"use": "read", "path": str(src)}, *stages],
        "output": {"dir": str(tmp_path / "out")},
    }
    (tmp_path / "p.yaml").write_text(json.dumps(config))
    env = {
        **os.environ,
        "SYNTHMILL_TEST_CALLS": str(tmp_path / "calls.txt"),
        "PYTHONPATH": str(REPO),
    }
    return subprocess.run(
        [sys.executable, "-m", "synthmill", "run", "p.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.mark.parametrize(
    ("stage", "message"),
    [
        ({**GOOD, "prompt": "Ask about {{ topic }"}, "stages.2.prompt: template syntax error"),
        ({**GOOD, "prompt": "Ask a {{ levle }} question about {{ topic }}"}, "levle"),
        (
            {"use": "generate", "prompt": "{{ topic }}", "schema": {"answer": "strng"}},
            "unknown type 'strng'",
        ),
        (
            {"use": "generate", "prompt": "{{ topic }}", "schema": "nosuch.models:Answer"},
            "cannot import 'nosuch.models'",
        ),
        ({"use": "nosuch.stages:Thing"}, "stages.2.use: cannot import 'nosuch.stages'"),
    ],
)
def test_broken_pipeline_fails_before_any_call(
    tmp_path: Path, stage: dict[str, Any], message: str
) -> None:
    done = run(tmp_path, GOOD | {"name": "first"}, stage)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "calls.txt").exists()  # not one model call was made


def test_unknown_column_names_the_columns_that_exist(tmp_path: Path) -> None:
    done = run(tmp_path, {**GOOD, "prompt": "{{ topc }}"})
    assert done.returncode == 2
    line = done.stderr.strip()
    assert "topc" in line and "topic" in line and "level" in line and "\n" not in line
    assert not (tmp_path / "calls.txt").exists()


def test_good_pipeline_runs_and_calls(tmp_path: Path) -> None:
    done = run(tmp_path, GOOD)
    assert done.returncode == 0, done.stderr
    assert len((tmp_path / "calls.txt").read_text().splitlines()) == 2
