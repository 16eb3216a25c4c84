"""Every command that reads data takes a file, a folder, a glob or a run directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthmill import Pipeline
from tests.conftest import REPO
from tests.helpers import run_main

DOCS = [json.loads(line) for line in (REPO / "examples/data/docs.jsonl").open()]


@pytest.fixture
def inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """parts/a.jsonl + parts/b.jsonl, and runs/docs: a run directory of the same rows."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "parts").mkdir()
    for name, rows in (("a", DOCS[:6]), ("b", DOCS[6:])):
        text = "".join(json.dumps({"text": r["text"]}) + "\n" for r in rows)
        (tmp_path / "parts" / f"{name}.jsonl").write_text(text)
    stages = [{"use": "read", "path": "parts"}]
    Pipeline.from_config({"stages": stages, "output": {"dir": "runs/docs"}}).run()
    return tmp_path


@pytest.mark.parametrize("src", ["runs/docs", "runs/docs/data/*.parquet", "parts", "parts/*"])
def test_measure_reads_a_run_a_glob_or_a_folder(inputs: Path, src: str) -> None:
    args = ["measure", src, "--embedder", "hashed", "-o", "m.json", "--reference", "parts/*"]
    assert run_main(args) == 0
    assert json.loads((inputs / "m.json").read_text())["rows"] == len(DOCS)


@pytest.mark.parametrize(
    "command",
    [
        ["dedup", "--method", "exact"],
        ["filter", "--profile", "prose"],
        ["decontaminate", "--benchmark-file", "parts/b*", "--benchmark-column", "text"],
    ],
)
def test_file_commands_read_a_glob_and_a_run(inputs: Path, command: list[str]) -> None:
    for n, src in enumerate(["parts/*.jsonl", "runs/docs"]):
        out = f"out{n}.jsonl"
        assert run_main([command[0], src, "-o", out, *command[1:]]) == 0
        stats = json.loads((inputs / f"out{n}.stats.json").read_text())
        assert stats["rows_in"] == len(DOCS)
    if command[0] == "decontaminate":  # parts/b.jsonl's rows are the benchmark: all found
        kept = {json.loads(line)["text"] for line in (inputs / out).open()}
        assert stats["rows_out"] <= 6 and not kept & {d["text"] for d in DOCS[6:]}


def test_a_glob_that_matches_nothing_is_one_line(
    inputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(["measure", "nothing/*.jsonl"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err
        == "error: input nothing/*.jsonl matches no file; check the path (a file, folder or glob)"
    )


def test_tabular_evaluate_reads_a_glob(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("sklearn", reason="the tabular extra (scikit-learn) is not installed")
    monkeypatch.chdir(tmp_path)
    rows = [f"{20 + i % 7},{1000 + 37 * i},{'car' if i % 3 else 'tv'},{i % 2}" for i in range(80)]
    for name, part in (("a", rows[:40]), ("b", rows[40:])):
        (tmp_path / f"{name}.csv").write_text("age,amount,purpose,y\n" + "\n".join(part) + "\n")
    args = ["tabular", "evaluate", "--real", "a.csv", "--synthetic", "*.csv", "--json"]
    assert run_main(args) == 0
    assert json.loads(capsys.readouterr().out)["rows"]["synthetic"] == 80


def test_an_empty_reference_is_one_line_and_leaves_the_card(
    inputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (inputs / "none.jsonl").write_text("")
    card = (inputs / "runs/docs/README.md").read_text()
    args = ["measure", "runs/docs", "--embedder", "hashed", "--reference", "none.jsonl"]
    assert run_main([*args, "-o", "m.json"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --reference none.jsonl has no rows; give real data to compare with"
    assert (inputs / "runs/docs/README.md").read_text() == card
    assert not (inputs / "m.json").exists()
