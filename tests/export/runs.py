"""Real run directories for export tests: pipelines run to the end, Parquet on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from synthmill import Pipeline
from synthmill.llm.base import Request

# Gold answers the fake solver knows; the rejection_sampling run samples against them.
GOLD = {"What is 6 * 7?": "42", "What is 1/2 + 1/4?": "3/4", "Solve 2x = 10 for x.": "5"}


def solve(request: Request) -> str:
    """A fake model that solves GOLD's problems correctly (JSON, as the recipe asks)."""
    question = request.messages[-1]["content"]
    answer = GOLD[question]
    return json.dumps({"solution": f"Working through {question}", "answer": answer})


def write(request: Request) -> str:
    """A fake writer: JSON for a schema (each field names the prompt), else plain text."""
    prompt = request.messages[-1]["content"]
    if request.json_schema:
        return json.dumps({k: f"{k}: {prompt}" for k in request.json_schema["properties"]})
    return f"Reply to: {prompt}"


def run(
    tmp_path: Path,
    stages: list[dict[str, Any]],
    name: str = "run",
    output_format: str = "parquet",
    fake: str = "solve",
) -> Path:
    """Run a pipeline (fake backend `fake` for any model stage); return its run directory."""
    config = {
        "name": name,
        "seed": 5,
        "backend": {"type": "fake", "function": f"tests.export.runs:{fake}"},
        "stages": stages,
        "output": {"dir": str(tmp_path / name), "format": output_format},
    }
    return Pipeline.from_config(config).run().root


def read_run(
    tmp_path: Path, rows: list[dict[str, Any]], name: str = "run", output_format: str = "parquet"
) -> Path:
    """A run whose source reads `rows` from a JSONL file and publishes them."""
    src = tmp_path / f"{name}.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run(tmp_path, [{"use": "read", "path": str(src)}], name, output_format)


def problems_run(tmp_path: Path, n: int = 12, families: list[str] | None = None) -> Path:
    """A `problems` run (no model): math and code problems with gold answers and tests."""
    stage = {"use": "problems", "n": n, "difficulties": [1, 2, 3]}
    stage["families"] = families or ["arithmetic", "algebra.linear", "code.function"]
    return run(tmp_path, [stage], "problems")


def rejection_run(tmp_path: Path) -> Path:
    """A rejection_sampling run over GOLD: k=3 correct samples per problem."""
    rows = [
        {"problem": q, "answer": a, "family": "fixture", "difficulty": i + 1, "kind": "math"}
        for i, (q, a) in enumerate(GOLD.items())
    ]
    src = tmp_path / "gold.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    stages: list[dict[str, Any]] = [
        {"use": "read", "path": str(src)},
        {"use": "rejection_sampling", "k": 3},
    ]
    return run(tmp_path, stages, "rs")


def lines(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
