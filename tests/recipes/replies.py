"""Deterministic replies for the fake backend: a JSON object for whatever the schema asks.

Each string field gets text derived from the prompt, so different prompts get different
replies and tests can trace a value back to the request that made it.
"""

from __future__ import annotations

import json

from synthmill.llm.base import Request
from synthmill.records import stable_hash


def reply(request: Request) -> str:
    """A valid JSON reply naming the request's hash in every field."""
    schema = request.json_schema or {"properties": {"answer": {}}}
    tag = stable_hash(request.messages, length=8)
    prompt = request.messages[-1]["content"]
    return json.dumps({k: _value(k, tag, prompt) for k in schema["properties"]})


def _value(key: str, tag: str, prompt: str) -> str:
    if key == "answer" and "Passage:" in prompt:
        return prompt.split("Passage:", 1)[1].split()[0]  # a word the passage holds
    return f"{key} number {tag} about gardens and rivers"


def broken(request: Request) -> str:
    """Never valid JSON: every row must end up in rejects with the raw output."""
    return "not json at all"


def judge(request: Request) -> str:
    """A judge that says yes exactly when the passage contains the answer verbatim."""
    prompt = request.messages[-1]["content"]
    passage = prompt.split("Passage: ", 1)[1].split("\n\nQuestion: ", 1)[0]
    answer = prompt.split("\nAnswer: ", 1)[1].split("\n\n", 1)[0]
    supported = "yes" if answer.lower() in passage.lower() else "no"
    return json.dumps({"supported": supported, "reason": f"checked {answer!r}"})
