"""Outputs never land inside another run directory: a run's publish swaps its data/ whole
(and --overwrite clears the folder), so a run or a file written there would be destroyed
later, or be read back as part of that run's dataset. Exit 2, one line, nothing created.

Real parts: the CLI in this process, real run directories and Parquet.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import cli, curation_config


def finished_run(tmp: Path) -> tuple[Path, Path]:
    import yaml

    config = curation_config(tmp, "outer", rows=20, shard_size=8)
    path = tmp / "outer.yaml"
    path.write_text(yaml.safe_dump(config))
    done = cli("run", str(path))
    assert done.returncode == 0, done.stderr
    return path, tmp / "out"


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("inside", ["data/nested", "rejects/x", "sub"])
def test_a_run_inside_another_run_directory_is_refused(tmp_path: Path, inside: str) -> None:
    config, outer = finished_run(tmp_path)
    before = tree(outer)
    done = cli("run", str(config), "--set", f"output.dir={outer / inside}", "--overwrite")
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"error: output.dir {outer / inside} lies inside the run directory {outer}, whose "
        "files that run replaces (publish swaps data/ whole); choose a folder outside it"
    ]
    assert tree(outer) == before


def test_a_file_command_writes_nothing_into_a_run_directory_but_its_export_folder(
    tmp_path: Path,
) -> None:
    _, outer = finished_run(tmp_path)
    before = tree(outer)
    done = cli("filter", str(outer), "--out", str(outer / "data" / "x.jsonl"))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"error: --out {outer / 'data' / 'x.jsonl'} is inside the run directory {outer} (its "
        f"data, config and card); write under {outer / 'export'} or outside the run"
    ]
    assert tree(outer) == before
    done = cli("dedup", str(outer), "--out", str(outer / "export" / "d.jsonl"), "--method", "exact")
    assert done.returncode == 0, done.stderr
    assert json.loads((outer / "export" / "d.stats.json").read_text())["rows_in"] > 0


def test_measure_never_writes_its_json_over_an_input_or_a_runs_files(tmp_path: Path) -> None:
    _, outer = finished_run(tmp_path)
    data = next((outer / "data").glob("*.parquet"))
    src = tmp_path / "rows.jsonl"
    kept = {p: p.read_bytes() for p in (data, src)}
    cases = {
        str(src): f"error: --out {src} would overwrite the input; choose another file",
        str(data): f"error: --out {data} is inside the run directory {outer} (its data, config "
        f"and card); write under {outer / 'export'} or outside the run",
        str(tmp_path / "m.parquet"): f"error: --out {tmp_path / 'm.parquet'}: the metrics are "
        "JSON; end it in .json",
    }
    for out, line in cases.items():
        done = cli("measure", str(src), "--embedder", "none", "--out", out)
        assert (done.returncode, done.stderr.splitlines()) == (2, [line])
    done = cli("measure", str(outer), "--embedder", "none", "--out", str(data))
    assert done.returncode == 2 and "would overwrite the input" in done.stderr
    assert {p: p.read_bytes() for p in kept} == kept
    for _ in range(2):  # its own JSON is replaced by a new measurement
        done = cli("measure", str(outer), "--embedder", "none", "--out", str(tmp_path / "m.json"))
        assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "m.json").read_text())["rows"] > 0


def test_export_never_writes_over_the_runs_own_input_file(tmp_path: Path) -> None:
    _, outer = finished_run(tmp_path)
    src = tmp_path / "rows.jsonl"
    kept = src.read_bytes()
    args = ["--format", "openai", "--prompt", "text", "--response", "text", "--out", str(src)]
    done = cli("export", str(outer), *args)
    assert (done.returncode, done.stderr.splitlines()[-1:]) == (
        2,
        [f"error: --out {src} is an input file of the run (its source data); choose another file"],
    )
    assert src.read_bytes() == kept


def test_report_never_writes_its_html_over_a_runs_data_or_input(tmp_path: Path) -> None:
    _, outer = finished_run(tmp_path)
    data = next((outer / "data").glob("*.parquet"))
    src = tmp_path / "rows.jsonl"
    kept = {p: p.read_bytes() for p in (data, src, outer / "config.yaml")}
    for out in kept:
        done = cli("report", str(outer), "--out", str(out))
        line = f"error: --out {out}: the report is HTML; end it in .html"
        assert (done.returncode, done.stderr.splitlines()) == (2, [line])
    (tmp_path / "d.html").mkdir()
    done = cli("report", str(outer), "--out", str(tmp_path / "d.html"))
    assert done.returncode == 2 and "is a directory" in done.stderr
    assert {p: p.read_bytes() for p in kept} == kept
    done = cli("report", str(outer), "--out", str(tmp_path / "r.html"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")


def test_decontaminate_never_writes_over_its_benchmark_file(tmp_path: Path) -> None:
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps({"text": f"row {i} of the data"}) + "\n" for i in range(5)))
    item = json.dumps({"text": "a test item that must stay as it is"}) + "\n"
    # OUT itself, and the rejects file written beside OUT, each named as the benchmark file
    for out, bench in [("b.jsonl", "b.jsonl"), ("o.jsonl", "o.rejects.jsonl")]:
        (tmp_path / bench).write_text(item)
        args = ["--benchmark-file", str(tmp_path / bench), "--overwrite"]
        done = cli("decontaminate", str(src), "--out", str(tmp_path / out), *args)
        assert (done.returncode, done.stderr.splitlines()) == (
            2,
            [f"error: --out {tmp_path / out} would overwrite the input; choose another file"],
        )
        assert (tmp_path / bench).read_text() == item


def test_batch_export_never_writes_over_the_config_or_an_input(tmp_path: Path) -> None:
    import yaml

    src, config = tmp_path / "rows.jsonl", tmp_path / "p.yaml"
    src.write_text("".join(json.dumps({"text": f"row {i}"}) + "\n" for i in range(3)))
    ask = {"use": "generate", "prompt": "Say {{ text }}", "output": "reply"}
    stages = [{"use": "read", "path": str(src)}, ask | {"backend": {"type": "fake"}}]
    config.write_text(yaml.safe_dump({"stages": stages, "output": {"dir": str(tmp_path / "o")}}))
    kept = {p: p.read_bytes() for p in (src, config)}
    for out in kept:  # refused before the dry run: no model call is made
        done = cli("batch", "export", str(config), "--out", str(out))
        assert (done.returncode, done.stderr.splitlines()) == (
            2,
            [f"error: --out {out} would overwrite the input; choose another file"],
        )
    assert {p: p.read_bytes() for p in kept} == kept
