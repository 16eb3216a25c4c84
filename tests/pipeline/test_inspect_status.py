"""`synthmill inspect` says how a run ended: finished, failed (with why), interrupted
(Ctrl-C / SIGTERM, or killed outright), and `running` only while a process holds its lock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthmill import Pipeline, Record, StageContext
from synthmill.inspect import summarize
from synthmill.pipeline.rundir import RunDir
from tests.helpers import run_main


def explode(batch: list[Record], ctx: StageContext) -> list[Record]:
    raise KeyError("gone")


def interrupt(batch: list[Record], ctx: StageContext) -> list[Record]:
    raise KeyboardInterrupt


def pipeline(tmp_path: Path, *steps: object) -> Pipeline:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"text": f"row {i}"}) + "\n" for i in range(4)))
    return Pipeline.from_config(
        {
            "stages": [{"use": "read", "path": str(src)}, *steps],
            "output": {"dir": str(tmp_path / "run")},
        }
    )


def inspect_cli(root: Path, *args: str) -> int:
    return run_main(["inspect", root, *args])


def test_a_run_that_raised_is_failed_with_its_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(Exception, match="KeyError"):
        pipeline(tmp_path, {"use": "map", "function": f"{__name__}:explode"}).run()
    s = summarize(tmp_path / "run")
    assert s.status == "failed" and s.error is not None and "KeyError" in s.error
    assert inspect_cli(tmp_path / "run") == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "status: failed" in out and "run the same command again to resume" in out


def test_ctrl_c_leaves_an_interrupted_run(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        pipeline(tmp_path, {"use": "map", "function": f"{__name__}:interrupt"}).run()
    assert json.loads((tmp_path / "run/run.json").read_text())["status"] == "interrupted"
    assert summarize(tmp_path / "run").status == "interrupted"


def test_running_only_while_the_lock_is_held(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline(tmp_path, {"use": "filter.length", "min_words": 1}).run()
    root = tmp_path / "run"
    assert summarize(root).status == "finished"
    run = json.loads((root / "run.json").read_text())
    (root / "run.json").write_text(json.dumps({**run, "status": "running"}))  # as kill -9 leaves
    killed = summarize(root)
    assert killed.status == "interrupted" and "killed" in (killed.error or "")
    assert inspect_cli(root, "--json") == 0
    assert json.loads(capsys.readouterr().out)["status"] == "interrupted"
    rd = RunDir(root)
    rd._lock()  # a live run holds the lock
    try:
        assert summarize(root).status == "running"
    finally:
        rd.unlock()
