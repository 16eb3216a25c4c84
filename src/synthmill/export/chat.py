"""Supervised fine-tuning formats: OpenAI chat `messages`, ShareGPT, Alpaca, and `messages` as is.

A row's conversation comes from a messages column or from a prompt and a response
column (plus optional input and system columns). Without explicit columns the shape
is recognised from the recipes' column names: `messages` (distill), `instruction` +
`output`/`response` (self_instruct, evol_instruct), `question` + `answer` with
`context` (docqa), `problem` + `solution` (rejection_sampling), `problem` + `answer`
(problems), `prompt` + `completion`/`response`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from synthmill.errors import ConfigError
from synthmill.export.base import MESSAGES, Columns, Format, first_present, missing
from synthmill.export.messages import BadRow, Message, chat, conversation, optional_text, text
from synthmill.export.rundata import Row

# (prompt, response, input) column names of the shapes recipes write, most specific first
SHAPES: tuple[tuple[str, str, str | None], ...] = (
    ("instruction", "output", "input"),
    ("instruction", "response", "input"),
    ("question", "answer", "context"),
    ("problem", "solution", None),
    ("problem", "answer", None),
    ("prompt", "completion", None),
    ("prompt", "response", None),
)
SHAREGPT_ROLE = {"system": "system", "user": "human", "assistant": "gpt", "tool": "tool"}
_CHAT_OPTIONS = frozenset({"prompt", "response", "system", "input", "messages"})


@dataclass(frozen=True)
class Source:
    """Where a row's conversation is: a messages column, or prompt/response columns."""

    messages: str | None = None
    prompt: str = ""
    response: str = ""
    input: str | None = None
    system: str | None = None

    def conversation(self, row: Row) -> list[Message]:
        if self.messages is not None:
            return conversation(row.data.get(self.messages))
        user = text(row.data, self.prompt)
        extra = optional_text(row.data, self.input)
        prompt = f"{user}\n\n{extra}" if extra else user
        return chat(prompt, text(row.data, self.response), optional_text(row.data, self.system))

    def parts(self, row: Row) -> tuple[str, str, str, str]:
        """instruction, input, output, system of a single-turn row (Alpaca keeps input apart)."""
        if self.messages is None:
            data = row.data
            return (
                text(data, self.prompt), optional_text(data, self.input),
                text(data, self.response), optional_text(data, self.system),
            )  # fmt: skip
        turns = self.conversation(row)
        system = turns[0]["content"] if turns[0]["role"] == "system" else ""
        rest = turns[1:] if system else turns
        if [m["role"] for m in rest] != ["user", "assistant"]:
            raise BadRow(f"Alpaca holds one turn; this conversation has {len(rest)} messages")
        return rest[0]["content"], "", rest[1]["content"], system


def resolve(
    fmt: str, columns: Columns, available: Sequence[str], with_context: bool = True
) -> Source:
    """The source of conversations from explicit columns, else from the recipes' shapes."""
    if columns.messages is not None:
        if columns.prompt or columns.response or columns.input or columns.system:
            raise ConfigError("--messages takes the whole conversation; drop --prompt/--response")
        return Source(messages=columns.messages)
    if (columns.prompt is None) != (columns.response is None):
        raise ConfigError("--prompt and --response go together; name both columns")
    system = columns.system or first_present(available, "system")
    if columns.prompt is not None and columns.response is not None:
        return Source(None, columns.prompt, columns.response, columns.input, system)
    if "messages" in available:
        return Source(messages="messages")
    for prompt, response, extra in SHAPES:
        if prompt in available and response in available:
            found = extra if extra in available and with_context else None
            return Source(None, prompt, response, columns.input or found, system)
    raise missing(fmt, "conversation", available, "name them with --prompt COL --response COL")


class ChatFormat(Format):
    """Base of the SFT formats: resolves the conversation source once."""

    reads: ClassVar[frozenset[str]] = _CHAT_OPTIONS

    def setup(self, columns: Columns, available: list[str]) -> None:
        self.source = resolve(self.name, columns, available, self.options.with_context)


class OpenAI(ChatFormat):
    """{"messages": [{"role", "content"}, ...]}: OpenAI fine-tuning, TRL's SFTTrainer."""

    name: ClassVar[str] = "openai"

    def convert(self, row: Row) -> dict[str, Any]:
        return {"messages": self.source.conversation(row)}

    def schema(self) -> pa.Schema:
        return pa.schema([("messages", MESSAGES)])


class ShareGPT(ChatFormat):
    """{"conversations": [{"from": "human" | "gpt" | "system", "value"}, ...]}."""

    name: ClassVar[str] = "sharegpt"

    def convert(self, row: Row) -> dict[str, Any]:
        turns = self.source.conversation(row)
        return {
            "conversations": [
                {"from": SHAREGPT_ROLE[m["role"]], "value": m["content"]} for m in turns
            ]
        }

    def schema(self) -> pa.Schema:
        turn = pa.struct([("from", pa.string()), ("value", pa.string())])
        return pa.schema([("conversations", pa.list_(turn))])


class Alpaca(ChatFormat):
    """{"instruction", "input", "output"} plus "system" when the run has system prompts."""

    name: ClassVar[str] = "alpaca"

    def convert(self, row: Row) -> dict[str, Any]:
        instruction, extra, output, system = self.source.parts(row)
        item = {"instruction": instruction, "input": extra, "output": output}
        return {**item, "system": system} if self._with_system else item

    @property
    def _with_system(self) -> bool:
        return self.source.system is not None or self.source.messages is not None

    def schema(self) -> pa.Schema:
        names = ["instruction", "input", "output"] + (["system"] if self._with_system else [])
        return pa.schema([(n, pa.string()) for n in names])


class Messages(Format):
    """{"messages": [...]}: a multi-turn conversation column exported as is, after checks.

    Keys beyond role and content (name, tool_call_id...) are kept.
    """

    name: ClassVar[str] = "messages"
    reads: ClassVar[frozenset[str]] = frozenset({"messages"})

    def setup(self, columns: Columns, available: list[str]) -> None:
        self.column = columns.messages or "messages"
        if self.column not in available:
            raise missing(self.name, "conversation", available, "name it with --messages COL")

    def convert(self, row: Row) -> dict[str, Any]:
        return {"messages": conversation(row.data.get(self.column), extra=True)}
