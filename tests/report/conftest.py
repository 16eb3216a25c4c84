"""Small real runs (fake backend for the model calls) shared by the report tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from synthmill import Pipeline

REPO = Path(__file__).resolve().parents[2]


def llm_config(out: Path) -> dict[str, Any]:
    backend = {"type": "fake", "function": "tests.report.replies:question"}
    return {
        "name": "report-llm",
        "seed": 3,
        "shard_size": 8,
        "stages": [
            {"use": "sample", "n": 24, "columns": {"topic": ["bees", "tides", "glaciers"]}},
            {
                "use": "generate",
                "name": "question",
                "prompt": "Write a question about {{ topic }}.",
                "output": "question",
                "backend": backend,
            },
            {"use": "dedup.exact", "columns": ["question"]},  # a global stage: a checkpoint
            {
                "use": "filter.expression",
                "expr": "{{ question.endswith('?') }}",
                "reason": "not a question",
            },
            {
                "use": "generate",
                "name": "answer",
                "prompt": "Answer: {{ question }}",
                "schema": {"answer": {"type": "string"}},
                "backend": {"type": "fake", "function": "tests.report.replies:answer"},
            },
        ],
        "output": {"dir": str(out)},
    }


def rl_config(out: Path) -> dict[str, Any]:
    return {
        "name": "report-rl",
        "seed": 5,
        "stages": [
            {
                "use": "problems",
                "n": 12,
                "families": ["arithmetic.integer", "number_theory.gcd"],
                "difficulties": [1, 2],
            },
            {
                "use": "rejection_sampling",
                "k": 2,
                "backend": {"type": "fake", "function": "tests.report.replies:solver"},
            },
        ],
        "output": {"dir": str(out)},
    }


def _run(config: dict[str, Any], cache: Path) -> None:
    """Run with a response cache of its own (session fixtures miss the autouse one)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYNTHMILL_CACHE_DIR", str(cache))
        Pipeline.from_config(config).run()


@pytest.fixture(scope="session")
def llm_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("runs")
    _run(llm_config(base / "llm"), base / "cache")
    return base / "llm"


@pytest.fixture(scope="session")
def rl_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("runs")
    _run(rl_config(base / "rl"), base / "cache")
    return base / "rl"
