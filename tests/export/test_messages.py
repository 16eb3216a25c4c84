"""Conversation checks: what a trainer could not use is a bad row, with a reason."""

from __future__ import annotations

from typing import Any

import pytest

from synthmill.export.messages import BadRow, conversation, text

U = {"role": "user", "content": "Hi?"}
A = {"role": "assistant", "content": "Hello."}
S = {"role": "system", "content": "Be brief."}
T = {"role": "tool", "content": "{}", "tool_call_id": "c1"}


def test_valid_conversations_pass_unchanged() -> None:
    assert conversation([U, A]) == [U, A]
    assert conversation([S, U, A, U, A]) == [S, U, A, U, A]
    assert conversation(
        '[{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]'
    ) == [U, A]
    assert conversation([S, U], ends_with="user") == [S, U]


def test_extra_keys_are_kept_only_when_asked_and_nulls_dropped() -> None:
    named = {**U, "name": "ann", "weight": None}
    assert conversation([named, A]) == [U, A]
    assert conversation([named, A, T, A], extra=True)[0] == {**U, "name": "ann"}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "not a non-empty list"),
        ([], "not a non-empty list"),
        ("hello there", "text, not a list"),
        ('{"role": "user"}', "not a non-empty list"),
        ([U, "Hello."], "message 1 is a str"),
        ([{"role": "bot", "content": "x"}, A], "role 'bot'"),
        ([{"role": "User", "content": "x"}, A], "role 'User'"),
        ([{"content": "x"}, A], "role None"),
        ([U, {"role": "assistant", "content": "   "}], "message 1 (assistant) has no text"),
        ([U, {"role": "assistant", "content": None}], "no text"),
        ([U, {"role": "assistant", "content": 42}], "no text"),
        ([U, {"role": "assistant", "content": [{"type": "text", "text": "x"}]}], "no text"),
        ([U, A, S, U, A], "system message is allowed only first"),
        ([S], "does not start with a user turn"),
        ([A, U, A], "does not start with a user turn"),
        ([U, U, A], "two user turns in a row"),
        ([U, A, A], "two assistant turns in a row"),
        ([U, T, A], "tool message does not follow an assistant"),
        ([U], "ends with user, not assistant"),
        ([U, A, U], "ends with user, not assistant"),
    ],
)
def test_malformed_conversations_say_why(value: Any, reason: str) -> None:
    with pytest.raises(BadRow, match=reason.replace("(", r"\(").replace(")", r"\)")):
        conversation(value)


def test_a_prompt_must_end_with_the_user() -> None:
    with pytest.raises(BadRow, match="ends with assistant, not user"):
        conversation([U, A], ends_with="user")


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({}, "'q' is empty"),
        ({"q": None}, "'q' is empty"),
        ({"q": " \n"}, "'q' is empty"),
        ({"q": True}, "holds a bool"),
        ({"q": ["a"]}, "holds a list"),
        ({"q": {"a": 1}}, "holds a dict"),
    ],
)
def test_text_columns_must_hold_text(row: dict[str, Any], reason: str) -> None:
    with pytest.raises(BadRow, match=reason):
        text(row, "q")
    assert text({"q": 12}, "q") == "12"
