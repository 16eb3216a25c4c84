"""A run whose stages reject every row does not end quietly with an empty dataset: exit 1,
one line naming the stage and its top reasons, nothing published, unless the config says
`allow_empty: true`. An empty input (no row lost) still publishes 0 rows with exit 0
(tests/pipeline/test_trust.py), and rows lost to transient failures are exit 3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from tests.helpers import run_main


def pipeline(tmp: Path, *stages: dict[str, Any], **top: Any) -> Path:
    rows = [{"text": t} for t in ("hi", "hello there", "ok", "fine thanks", "yes")]
    (tmp / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = {"stages": [{"use": "read", "path": "in.jsonl"}, *stages], "output": {"dir": "out"}}
    (tmp / "p.yaml").write_text(yaml.safe_dump({**cfg, **top}))
    return tmp / "p.yaml"


@pytest.fixture(autouse=True)
def _here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_every_row_rejected_is_exit_1_with_one_line_and_nothing_published(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = pipeline(tmp_path, {"use": "filter.length", "min_words": 3})
    assert run_main(["run", path]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    out = tmp_path / "out"
    assert err[-1] == (
        "error: every row was rejected by 'filter.length' (5 rejected: fewer than 3 words (5));"
        f" nothing published; see {out / 'rejects'}; set allow_empty: true"
        " (--set allow_empty=true) to publish an empty dataset"
    )
    assert sum(line.startswith("error") for line in err) == 1
    assert not (out / "data").exists() and not (out / "README.md").exists()
    assert not (out / "stats.json").exists()
    rejects = (out / "rejects" / "filter.length").glob("*.jsonl")
    assert sum(len(f.read_text().splitlines()) for f in rejects) == 5  # the reasons, kept
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "failed" and "every row was rejected" in run["attempts"][-1]["error"]
    assert run_main(["inspect", out]) == 0
    assert "failed" in capsys.readouterr().out

    # allow_empty decides only the outcome: the same run resumes and publishes 0 rows
    assert run_main(["run", path, "--set", "allow_empty=true"]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["rows"] == 0 and stats["stages"]["filter.length"]["rejected_total"] == 5
    assert "Every row was rejected: none of the 5 rows" in (out / "README.md").read_text()
    assert list((out / "data").iterdir()) == []


def test_allow_empty_in_the_config_publishes_an_empty_dataset(tmp_path: Path) -> None:
    path = pipeline(tmp_path, {"use": "filter.length", "min_words": 3}, allow_empty=True)
    assert run_main(["run", path]) == 0
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["rows"] == 0
    assert "allow_empty: true" in (tmp_path / "out" / "config.yaml").read_text()


def test_rows_dropped_without_a_reject_name_the_stage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drop = {"use": "map", "function": "tests.pipeline.test_empty_run:drop_all"}
    path = pipeline(tmp_path, {"use": "filter.length", "min_words": 2}, drop)
    assert run_main(["run", path]) == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith(
        "error: every row was dropped by 'drop_all' (2 rows in, none out, none rejected); "
        "nothing published; set allow_empty: true"
    )


def test_a_run_that_keeps_a_row_is_exit_0(tmp_path: Path) -> None:
    path = pipeline(tmp_path, {"use": "filter.length", "min_words": 2})  # 2 of 5 kept
    assert run_main(["run", path]) == 0
    assert pq.read_table(tmp_path / "out" / "data").num_rows == 2


def test_every_row_lost_to_transient_failures_is_exit_3_not_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backend = {"type": "fake", "fail_every": 1, "transient": True}
    path = pipeline(tmp_path, {"use": "distill", "prompt_column": "text"}, backend=backend)
    assert run_main(["run", path]) == 3
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "5 of 5 rows (100.0%) at stage 'distill' failed for transient reasons" in line


def drop_all(batch: list[Any], ctx: Any) -> list[Any]:
    return []
