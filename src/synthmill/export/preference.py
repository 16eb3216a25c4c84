"""`dpo`: preference pairs in TRL's conversational form, for DPOTrainer and RewardTrainer.

    {"prompt": [{"role": "user", "content": ...}],
     "chosen": [{"role": "assistant", "content": ...}],
     "rejected": [{"role": "assistant", "content": ...}]}

The prompt may start with a system message. `chosen` and `rejected` columns hold text,
or a list holding one assistant message.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pyarrow as pa

from synthmill.export.base import MESSAGES, Columns, Format, first_present, missing
from synthmill.export.messages import BadRow, Message, prompt_turns, text
from synthmill.export.rundata import Row


class DPO(Format):
    """A prompt and two answers, the preferred one first."""

    name: ClassVar[str] = "dpo"
    reads: ClassVar[frozenset[str]] = frozenset({"prompt", "chosen", "rejected", "system"})

    def setup(self, columns: Columns, available: list[str]) -> None:
        prompt = columns.prompt or first_present(
            available, "prompt", "question", "instruction", "problem"
        )
        if prompt is None:
            raise missing(self.name, "prompt", available, "name it with --prompt COL")
        self.prompt = prompt
        self.chosen = columns.chosen or "chosen"
        self.rejected = columns.rejected or "rejected"
        for what in (self.chosen, self.rejected):
            if what not in available:
                raise missing(self.name, what, available, "name them with --chosen/--rejected COL")
        self.system = columns.system or first_present(available, "system")

    def convert(self, row: Row) -> dict[str, Any]:
        chosen = _answer(row.data, self.chosen)
        rejected = _answer(row.data, self.rejected)
        if chosen.strip() == rejected.strip():
            raise BadRow("chosen and rejected are the same text")
        prompt = prompt_turns(row.data, self.prompt, self.system)
        return {"prompt": prompt, "chosen": _turn(chosen), "rejected": _turn(rejected)}

    def schema(self) -> pa.Schema:
        return pa.schema([("prompt", MESSAGES), ("chosen", MESSAGES), ("rejected", MESSAGES)])


def _answer(data: dict[str, Any], column: str) -> str:
    """The text of a chosen/rejected column: plain text, or one assistant message."""
    value = data.get(column)
    if not isinstance(value, list | tuple):
        return text(data, column)
    if len(value) != 1 or not isinstance(value[0], dict) or value[0].get("role") != "assistant":
        raise BadRow(f"'{column}' is a list but not one assistant message")
    return text(value[0], "content")


def _turn(content: str) -> list[Message]:
    return [{"role": "assistant", "content": content}]
