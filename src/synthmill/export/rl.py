"""Prompts with gold answers for RL with verifiable rewards: TRL's GRPOTrainer and verl.

`rl` (TRL): a conversational prompt-only row; every other column reaches the reward
function as a keyword argument.

    {"prompt": [{"role": "user", "content": ...}], "answer": "42", "family": "sequence",
     "difficulty": 2, "kind": "math", "tests": "", "entry_point": ""}

`verl`: the layout of verl's RLHFDataset (Parquet): `data_source` (picks the reward
function), `prompt`, `ability`, `reward_model: {style: rule, ground_truth}`, and
`extra_info` (index, id, family, difficulty, tests, entry_point) for a custom
`compute_score(data_source, solution_str, ground_truth, extra_info)`.

Both write a prompt once: rows of a rejection_sampling run repeat their problem for
every verified sample, and the repeats are merged (and counted).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from synthmill.export.base import MESSAGES, Columns, Format, first_present, missing
from synthmill.export.messages import BadRow, Message, optional_text, prompt_turns, text
from synthmill.export.rundata import Row

PROMPT_COLUMNS = ("problem", "question", "prompt", "instruction")


@dataclass(frozen=True)
class Task:
    """What an RL row needs: the prompt, the gold answer, and how to check it."""

    prompt: list[Message]
    answer: str
    family: str
    difficulty: int | None
    kind: str
    tests: str
    entry_point: str


class _Tasks(Format):
    """Reads tasks (prompt, gold answer, family, difficulty, code tests) from rows."""

    reads: ClassVar[frozenset[str]] = frozenset({"prompt", "answer", "system"})

    def setup(self, columns: Columns, available: list[str]) -> None:
        prompt = columns.prompt or first_present(available, *PROMPT_COLUMNS)
        if prompt is None:
            raise missing(self.name, "prompt", available, "name it with --prompt COL")
        self.prompt = prompt
        self.answer = columns.answer or "answer"
        if self.answer not in available:
            raise missing(self.name, "gold answer", available, "name it with --answer COL")
        self.system = columns.system or first_present(available, "system")

    def task(self, row: Row) -> Task:
        data = row.data
        tests = optional_text(data, "tests" if "tests" in data else None)
        kind = str(data.get("kind") or ("code" if tests else "math"))
        entry = optional_text(data, "entry_point" if "entry_point" in data else None)
        if kind == "code" and not (tests and entry):
            raise BadRow("a code problem without tests and entry_point cannot be checked")
        family = data.get("family") or row.meta.params.get("family") or ""
        level = data.get("difficulty", row.meta.params.get("difficulty"))
        prompt = prompt_turns(data, self.prompt, self.system)
        answer = text(data, self.answer)
        return Task(prompt, answer, str(family), _level(level), kind, tests, entry)

    def key(self, item: dict[str, Any]) -> str | None:
        return json.dumps([item["prompt"], item.get("answer") or item.get("reward_model")])


class RL(_Tasks):
    """TRL GRPOTrainer rows: prompt messages, gold answer, and the columns rewards use."""

    name: ClassVar[str] = "rl"

    def convert(self, row: Row) -> dict[str, Any]:
        t = self.task(row)
        return {
            "prompt": t.prompt, "answer": t.answer, "family": t.family,
            "difficulty": t.difficulty, "kind": t.kind, "tests": t.tests,
            "entry_point": t.entry_point,
        }  # fmt: skip

    def schema(self) -> pa.Schema:
        strings = ["answer", "family"]
        tail = ["kind", "tests", "entry_point"]
        return pa.schema(
            [("prompt", MESSAGES)]
            + [(n, pa.string()) for n in strings]
            + [("difficulty", pa.int64())]
            + [(n, pa.string()) for n in tail]
        )


class Verl(_Tasks):
    """verl RLHFDataset rows (Parquet by default, as verl reads)."""

    name: ClassVar[str] = "verl"
    suffix: ClassVar[str] = ".parquet"

    def convert(self, row: Row) -> dict[str, Any]:
        t = self.task(row)
        source = self.options.data_source
        extra = {
            "index": row.index, "id": row.meta.id, "family": t.family,
            "difficulty": t.difficulty, "tests": t.tests, "entry_point": t.entry_point,
        }  # fmt: skip
        return {
            "data_source": f"{source}/{t.family}" if t.family else source,
            "prompt": t.prompt,
            "ability": t.kind,
            "reward_model": {"style": "rule", "ground_truth": t.answer},
            "extra_info": extra,
        }

    def schema(self) -> pa.Schema:
        reward = pa.struct([("style", pa.string()), ("ground_truth", pa.string())])
        extra = pa.struct(
            [
                ("index", pa.int64()), ("id", pa.string()), ("family", pa.string()),
                ("difficulty", pa.int64()), ("tests", pa.string()),
                ("entry_point", pa.string()),
            ]
        )  # fmt: skip
        return pa.schema(
            [
                ("data_source", pa.string()),
                ("prompt", MESSAGES),
                ("ability", pa.string()),
                ("reward_model", reward),
                ("extra_info", extra),
            ]
        )


def _level(value: Any) -> int | None:
    """A difficulty level as an int (None when the row has none)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not str(value).lstrip("-").isdigit():
        raise BadRow(f"difficulty {value!r} is not a whole number")
    return int(value)
