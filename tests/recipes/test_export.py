"""Export a real run directory (Parquet written by the pipeline) in the three formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthmill import Pipeline
from synthmill.cli import app
from synthmill.errors import ConfigError, DataError
from synthmill.export import Example, export, render, to_example

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


def test_example_in_each_format() -> None:
    ex = Example("Translate.", "Bonjour", "Hello", "Be brief.")
    assert render(ex, "openai") == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Translate.\n\nHello"},
            {"role": "assistant", "content": "Bonjour"},
        ]
    }
    assert [t["from"] for t in render(ex, "sharegpt")["conversations"]] == [
        "system",
        "human",
        "gpt",
    ]
    assert render(ex, "alpaca") == {
        "instruction": "Translate.",
        "input": "Hello",
        "output": "Bonjour",
        "system": "Be brief.",
    }


def test_rows_of_each_recipe_map_to_examples() -> None:
    qa = to_example({"question": "Q?", "answer": "A", "context": "C."})
    assert (qa.instruction, qa.input, qa.output) == ("Q?", "C.", "A")
    assert to_example({"question": "Q?", "answer": "A", "context": "C."}, False).input == ""
    si = to_example({"instruction": "I", "input": "", "output": "O"})
    assert (si.instruction, si.output) == ("I", "O")
    with pytest.raises(DataError, match="no conversation"):
        to_example({"text": "just text"})
    with pytest.raises(DataError, match="single-turn"):
        to_example({"messages": [{"role": "user", "content": "a"}] * 2})


def test_export_distilled_run_in_three_formats(tmp_path: Path) -> None:
    root = make_run(
        tmp_path,
        [{"use": "distill", "explain": True}],
        [{"instruction": f"Why {i}?", "input": ""} for i in range(3)],
    )
    for fmt in ("openai", "sharegpt", "alpaca"):
        out = tmp_path / f"{fmt}.jsonl"
        assert export(root, out, fmt, provenance=True) == 3  # type: ignore[arg-type]
        rows = lines(out)
        assert len(rows) == 3 and all(len(str(r["id"])) == 16 for r in rows)
    first = lines(tmp_path / "openai.jsonl")[0]["messages"]
    assert [m["role"] for m in first] == ["system", "user", "assistant"]  # type: ignore[index]
    alpaca = lines(tmp_path / "alpaca.jsonl")[0]
    assert alpaca["instruction"].startswith("Why") and alpaca["system"]  # type: ignore[union-attr]


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
    bad = CliRunner().invoke(app, ["export", str(root), "--format", "csv"])
    assert isinstance(bad.exception, ConfigError) and "openai" in str(bad.exception)
