"""Export runs made by the recipes (fake backend, real Parquet): their columns are recognised."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthmill import Pipeline
from synthmill.cli import app
from synthmill.errors import ConfigError
from synthmill.export import Columns, Options, export

FAKE = {"type": "fake", "function": "tests.recipes.replies:reply"}


def make_run(tmp_path: Path, stages: list[dict[str, object]], data: list[dict[str, str]]) -> Path:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in data))
    config = {
        "name": "x",
        "backend": FAKE,
        "stages": [{"use": "read", "path": str(src)}, *stages],
        "output": {"dir": str(tmp_path / "run")},
    }
    return Pipeline.from_config(config).run().root


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_export_distilled_run_in_four_formats(tmp_path: Path) -> None:
    root = make_run(
        tmp_path,
        [{"use": "distill", "explain": True}],
        [{"instruction": f"Why {i}?", "input": ""} for i in range(3)],
    )
    for fmt in ("openai", "sharegpt", "alpaca", "messages"):
        out = tmp_path / f"{fmt}.jsonl"
        assert export(root, out, fmt, provenance=True).rows == 3
        rows = lines(out)
        assert len(rows) == 3 and all(len(str(r["id"])) == 16 for r in rows)
    first: list[dict[str, str]] = lines(tmp_path / "openai.jsonl")[0]["messages"]  # type: ignore[assignment]
    assert [m["role"] for m in first] == ["system", "user", "assistant"]
    assert lines(tmp_path / "messages.jsonl")[0]["messages"] == first
    alpaca = lines(tmp_path / "alpaca.jsonl")[0]
    assert alpaca["instruction"] == "Why 0?" and alpaca["system"] == first[0]["content"]
    response = export(
        root, tmp_path / "r.jsonl", "alpaca", Columns(prompt="instruction", response="response")
    )
    assert response.rows == 3 and lines(tmp_path / "r.jsonl")[0]["output"] == alpaca["output"]


def test_export_cli_on_docqa_run(tmp_path: Path) -> None:
    root = make_run(
        tmp_path,
        [{"use": "chunk", "max_words": 12, "min_words": 1}, {"use": "docqa"}],
        [{"text": "Otters sleep on water. They hold paws so they do not drift apart."}],
    )
    result = CliRunner().invoke(app, ["export", str(root), "--format", "sharegpt"])
    assert result.exit_code == 0, result.output
    rows = lines(root / "export" / "sharegpt.jsonl")
    assert len(rows) == 2
    human = rows[0]["conversations"][0]["value"]  # type: ignore[index]
    assert "Otters sleep on water." in human
    export(root, tmp_path / "bare.jsonl", "alpaca", options=Options(with_context=False))
    assert {r["input"] for r in lines(tmp_path / "bare.jsonl")} == {""}
    bad = CliRunner().invoke(app, ["export", str(root), "--format", "csv"])
    assert bad.exit_code == 2 and "'openai'" in bad.output  # a choice: the formats are listed


def test_a_self_instruct_style_run_without_answers_fails_in_one_line(tmp_path: Path) -> None:
    root = make_run(tmp_path, [], [{"text": "just text"}])
    with pytest.raises(ConfigError, match=r"cannot tell .* conversation \(the run has text\)"):
        export(root, tmp_path / "x.jsonl", "openai")
