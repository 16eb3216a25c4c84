"""A run directory whose data file is damaged (truncated, overwritten, a corrupt page) is
one line naming the file and exit 2 from `inspect`, `export` and `report`, not a traceback
or a generic exit 1; nothing is written where the output would go. Real parts: runs made
by the pipeline, Parquet and JSONL files damaged on disk, the CLI in this process."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from synthmill import Pipeline
from tests.helpers import cli

TEXTS = [f"row number {i} says something a little different" for i in range(40)]
COLUMNS = ["--prompt", "text", "--response", "text"]


def make_run(folder: Path, fmt: str = "parquet") -> Path:
    src = folder / "in.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    out = folder / "run"
    stages = [{"use": "read", "path": str(src)}]
    Pipeline.from_config({"stages": stages, "output": {"dir": str(out), "format": fmt}}).run()
    return out


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def garbage(path: Path) -> None:
    path.write_bytes(b"not parquet at all\n")


def corrupt_page(path: Path) -> None:
    """Zero bytes in the middle: the footer still reads, a data page does not decode."""
    data = bytearray(path.read_bytes())
    data[64:-64] = bytes(len(data) - 128)
    path.write_bytes(bytes(data))


COMMANDS = {
    "inspect": lambda run, tmp: ["inspect", str(run)],
    "inspect --json": lambda run, tmp: ["inspect", str(run), "--json"],
    "inspect --row": lambda run, tmp: ["inspect", str(run), "--row", "nope"],
    "export": lambda run, tmp: ["export", str(run), "-o", str(tmp / "train.jsonl"), *COLUMNS],
    "report": lambda run, tmp: ["report", str(run), "-o", str(tmp / "report.html")],
}


@pytest.mark.parametrize("damage", [truncate, garbage, corrupt_page])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_damaged_data_file_is_one_line_exit_2(
    tmp_path: Path, command: str, damage: Callable[[Path], None]
) -> None:
    run = make_run(tmp_path)
    (data,) = (run / "data").glob("*.parquet")
    damage(data)
    done = cli(*COMMANDS[command](run, tmp_path))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {data} is damaged ("), lines
    assert "synthmill run CONFIG" in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "train.jsonl").exists() and not (tmp_path / "report.html").exists()


@pytest.mark.parametrize("command", ["export", "report"])
def test_a_damaged_jsonl_data_file_is_one_line_exit_2(tmp_path: Path, command: str) -> None:
    run = make_run(tmp_path, "jsonl")
    (data,) = (run / "data").glob("*.jsonl")
    data.write_text(data.read_text()[:-20])  # the last line cut off mid-row
    done = cli(*COMMANDS[command](run, tmp_path))
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: {data} is damaged ("), line


def test_the_same_run_undamaged_works_and_a_rerun_mends_it(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    shutil.copytree(run, tmp_path / "copy")
    (data,) = (run / "data").glob("*.parquet")
    truncate(data)
    assert cli("inspect", str(tmp_path / "copy")).returncode == 0
    export = ["export", str(run), "-o", str(tmp_path / "a.jsonl"), *COLUMNS]
    assert cli(*export).returncode == 2
    make_run(tmp_path)  # what the line says: run the pipeline again
    done = cli(*export)
    assert done.returncode == 0, done.stderr
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == len(TEXTS)


@pytest.mark.parametrize("text", ["stages: [\n  - bad: : :\n", "just text\n"])
@pytest.mark.parametrize("command", ["inspect", "report"])
def test_a_damaged_config_is_one_line_exit_2(tmp_path: Path, command: str, text: str) -> None:
    run = make_run(tmp_path)
    (run / "config.yaml").write_text(text)
    done = cli(*COMMANDS[command](run, tmp_path))
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: {run / 'config.yaml'} is damaged ("), line
