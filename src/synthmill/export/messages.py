"""Chat messages as trainers read them: validated roles and text, in an order that makes sense.

A row that cannot become a conversation raises `BadRow` with a short reason; the export
either stops on it (naming the row) or skips and counts it, never drops it unseen.
"""

from __future__ import annotations

import itertools
import json
from typing import Any, Literal

ROLES = ("system", "user", "assistant", "tool")
Message = dict[str, Any]
Ending = Literal["assistant", "user"]


class BadRow(Exception):
    """A row that does not hold what the export needs; `reason` says what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def text(row: dict[str, Any], column: str) -> str:
    """The non-empty text of a column; numbers become text, anything else is a bad row."""
    value = row.get(column)
    if value is None:
        raise BadRow(f"'{column}' is empty")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise BadRow(f"'{column}' holds a {type(value).__name__}, not text")
    if not value.strip():
        raise BadRow(f"'{column}' is empty")
    return value


def optional_text(row: dict[str, Any], column: str | None) -> str:
    """The text of an optional column; a missing column or a null is ''."""
    if column is None or row.get(column) in (None, ""):
        return ""
    return text(row, column)


def conversation(
    value: Any, *, ends_with: Ending = "assistant", extra: bool = False
) -> list[Message]:
    """A validated list of messages; `extra` keeps keys beyond role and content.

    Rules: a non-empty list of {role, content} objects, roles from ROLES, non-empty text
    content, a system message only first, user and assistant turns alternating (tool
    replies only after an assistant turn), the first turn from the user, and the last
    from `ends_with`.
    """
    items = _as_list(value)
    messages = [_message(i, m, extra) for i, m in enumerate(items)]
    _check_order(messages)
    if messages[-1]["role"] != ends_with:
        raise BadRow(f"the conversation ends with {messages[-1]['role']}, not {ends_with}")
    return messages


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise BadRow("messages is text, not a list of messages") from None
    if not isinstance(value, list | tuple) or not value:
        raise BadRow("messages is not a non-empty list of messages")
    return list(value)


def _message(i: int, item: Any, extra: bool) -> Message:
    if not isinstance(item, dict):
        raise BadRow(f"message {i} is a {type(item).__name__}, not an object")
    role, content = item.get("role"), item.get("content")
    if role not in ROLES:
        raise BadRow(f"message {i} has role {role!r}; roles are {', '.join(ROLES)}")
    if not isinstance(content, str) or not content.strip():
        raise BadRow(f"message {i} ({role}) has no text content")
    rest = {k: v for k, v in item.items() if k not in ("role", "content") and v is not None}
    return {"role": role, "content": content, **(rest if extra else {})}


def _check_order(messages: list[Message]) -> None:
    roles = [m["role"] for m in messages]
    if "system" in roles[1:]:
        raise BadRow("a system message is allowed only first")
    turns = roles[1:] if roles[0] == "system" else roles
    if not turns or turns[0] != "user":
        raise BadRow("the conversation does not start with a user turn")
    for before, now in itertools.pairwise(turns):
        if now == "tool" and before not in ("assistant", "tool"):
            raise BadRow("a tool message does not follow an assistant turn")
        if now == before and now != "tool":
            raise BadRow(f"two {now} turns in a row")


def prompt_turns(row: dict[str, Any], column: str, system: str | None) -> list[Message]:
    """A prompt as messages: a column of text (with an optional system column), or a
    conversation already, which must end with the user's turn."""
    value = row.get(column)
    if isinstance(value, list | tuple):
        return conversation(value, ends_with="user")
    return chat(text(row, column), None, optional_text(row, system))


def chat(prompt: str, response: str | None = None, system: str = "") -> list[Message]:
    """A single-turn conversation: optional system, the user prompt, optional answer."""
    head = [{"role": "system", "content": system}] if system else []
    tail = [{"role": "assistant", "content": response}] if response is not None else []
    return [*head, {"role": "user", "content": prompt}, *tail]
