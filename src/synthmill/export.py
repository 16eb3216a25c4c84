"""Export a run's rows as fine-tuning data: OpenAI chat messages, ShareGPT, or Alpaca JSONL.

Each row becomes one conversation, read from a `messages` column when there is one
(`distill`), else from instruction / input / output columns (`self_instruct`,
`evol_instruct`), or question / answer / context (`docqa`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from synthmill.errors import DataError
from synthmill.io.atomic import atomic_path
from synthmill.io.records_io import read_records
from synthmill.records import Record

Format = Literal["openai", "sharegpt", "alpaca"]
FORMATS: tuple[Format, ...] = ("openai", "sharegpt", "alpaca")
_SHAREGPT_ROLE = {"system": "system", "user": "human", "assistant": "gpt"}


@dataclass(frozen=True)
class Example:
    """One single-turn training example: optional system prompt, instruction, input, output."""

    instruction: str
    output: str
    input: str = ""
    system: str = ""

    def messages(self) -> list[dict[str, str]]:
        user = f"{self.instruction}\n\n{self.input}" if self.input else self.instruction
        head = [{"role": "system", "content": self.system}] if self.system else []
        return [
            *head,
            {"role": "user", "content": user},
            {"role": "assistant", "content": self.output},
        ]


def to_example(row: dict[str, Any], with_context: bool = True) -> Example:
    """The example a row holds, whichever recipe made it; DataError if none fits."""
    if row.get("messages"):
        return _from_messages(row["messages"])
    if row.get("question") and row.get("answer") is not None:
        context = str(row.get("context") or "") if with_context else ""
        return Example(str(row["question"]), str(row["answer"]), context)
    output = row.get("response") or row.get("output")
    if row.get("instruction") and output is not None:
        return Example(
            str(row["instruction"]), str(output), str(row.get("input") or ""),
            str(row.get("system") or ""),
        )  # fmt: skip
    cols = ", ".join(sorted(row))
    raise DataError(
        f"no conversation in a row with columns {cols}; export needs messages, "
        "instruction+output (or response), or question+answer"
    )


def _from_messages(messages: Iterable[dict[str, Any]]) -> Example:
    turns = [(str(m["role"]), str(m["content"])) for m in messages]
    system = next((c for r, c in turns if r == "system"), "")
    users = [c for r, c in turns if r == "user"]
    answers = [c for r, c in turns if r == "assistant"]
    if len(users) != 1 or len(answers) != 1:
        raise DataError("export handles single-turn conversations; this row has several turns")
    return Example(users[0], answers[0], "", system)


def render(example: Example, fmt: Format) -> dict[str, Any]:
    """The JSON object of one example in the chosen format."""
    if fmt == "openai":
        return {"messages": example.messages()}
    if fmt == "sharegpt":
        turns = [
            {"from": _SHAREGPT_ROLE[m["role"]], "value": m["content"]} for m in example.messages()
        ]
        return {"conversations": turns}
    row = {"instruction": example.instruction, "input": example.input, "output": example.output}
    return {**row, "system": example.system} if example.system else row


def run_records(run_dir: Path) -> Iterator[Record]:
    """The published rows of a run directory, file by file."""
    data = run_dir / "data"
    files = sorted(data.glob("train-*.parquet")) + sorted(data.glob("train-*.jsonl"))
    if not files:
        raise DataError(f"{run_dir}: no data/train-* files; run the pipeline to the end first")
    for path in files:
        yield from read_records(path)


def export(
    run_dir: Path,
    out: Path,
    fmt: Format,
    *,
    with_context: bool = True,
    provenance: bool = False,
) -> int:
    """Write every row of a run as `fmt` JSONL to `out` (atomically); returns the row count."""
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    n = 0
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for record in run_records(run_dir):
            item = render(to_example(record.data, with_context), fmt)
            if provenance:
                item["id"] = record.meta.id
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
            n += 1
    return n
