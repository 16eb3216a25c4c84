"""Runs built with `sample` and `generate` (fake backend) export from their own columns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from synthmill.export import Columns, export
from tests.export.runs import lines, run

SAMPLE = {
    "use": "sample",
    "n": 6,
    "columns": {"topic": ["tides", "clouds", "magnets"], "persona": ["teacher", "pirate"]},
}


def generate(output: str, prompt: str, **extra: Any) -> dict[str, Any]:
    return {"use": "generate", "name": output, "prompt": prompt, "output": output, **extra}


def rows(root: Path) -> list[dict[str, Any]]:
    return [
        r for p in sorted((root / "data").glob("*.parquet")) for r in pq.read_table(p).to_pylist()
    ]


def test_questions_and_answers_from_generate(tmp_path: Path) -> None:
    stages = [
        SAMPLE,
        generate("question", "Ask about {{ topic }}.", system="You are a {{ persona }}."),
        {
            "use": "generate",
            "name": "answer",
            "prompt": "{{ question }}",
            "schema": {"answer": "str"},
        },
    ]
    root = run(tmp_path, stages, "qa", fake="write")
    made = rows(root)
    result = export(root, None, "openai")  # question + answer recognised
    assert result.rows == len(made) == 6
    chats = [r["messages"] for r in lines(result.path)]
    assert [c[0]["content"] for c in chats] == [r["question"] for r in made]
    assert [c[1]["content"] for c in chats] == [r["answer"] for r in made]
    persona = export(root, tmp_path / "p.jsonl", "openai", Columns("topic", "question", "persona"))
    first = lines(persona.path)[0]["messages"]
    assert [m["content"] for m in first] == [
        made[0]["persona"],
        made[0]["topic"],
        made[0]["question"],
    ]


def test_preference_pairs_from_two_generate_stages(tmp_path: Path) -> None:
    stages = [
        SAMPLE,
        generate("question", "Ask about {{ topic }}."),
        generate("chosen", "Answer well: {{ question }}"),
        generate("rejected", "Answer badly: {{ question }}"),
    ]
    root = run(tmp_path, stages, "pairs", fake="write")
    result = export(root, None, "dpo", Columns(prompt="question"))
    assert result.rows == 6
    pair = lines(result.path)[0]
    made = rows(root)[0]
    assert pair["prompt"] == [{"role": "user", "content": made["question"]}]
    assert pair["chosen"] == [{"role": "assistant", "content": made["chosen"]}]
    assert pair["rejected"] == [{"role": "assistant", "content": made["rejected"]}]
