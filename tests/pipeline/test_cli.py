"""The CLI as a user meets it: run an example, inspect it, ask for help and the version."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

CLI = [sys.executable, "-m", "synthmill"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_cloze_example_runs_and_inspects(tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    run = cli("run", "examples/cloze.yaml", "--set", "output.dir=out", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "done:" in run.stderr and "dedup.exact" in run.stderr  # the progress bars
    shown = cli("inspect", "out", "--rows", "2", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    for word in (
        "finished",
        "sentences",
        "filter.length",
        "dedup.exact",
        "exact duplicate",
        "question",
    ):
        assert word in shown.stdout
    table = [line.split()[1] for line in shown.stdout.splitlines() if line.startswith("│ ")]
    assert table[:5] == ["read", "sentences", "filter.length", "dedup.exact", "cloze"]
    summary = json.loads(cli("inspect", "out", "--json", cwd=tmp_path).stdout)
    assert summary["stages"]["dedup.exact"]["rejected"] == {"exact duplicate": 4}
    assert summary["rows"] == summary["stages"]["cloze"]["rows_out"] > 0
    assert len(summary["samples"]) == 3 and summary["samples"][0]["_meta"]["recipe"] == "cloze"


def test_inspect_of_a_non_run_dir_is_one_line(tmp_path: Path) -> None:
    out = cli("inspect", str(tmp_path), cwd=tmp_path)
    assert out.returncode == 2
    assert (
        out.stderr.strip() == f"error: {tmp_path} is not a synthmill run directory (no config.yaml)"
    )


def test_help_and_version(tmp_path: Path) -> None:
    top = cli("--help", cwd=tmp_path)
    assert top.returncode == 0 and "run" in top.stdout and "inspect" in top.stdout
    for command in ("run", "inspect", "stages"):
        helped = cli(command, "--help", cwd=tmp_path)
        assert helped.returncode == 0 and "Usage" in helped.stdout
    assert cli("--version", cwd=tmp_path).stdout.startswith("synthmill ")
