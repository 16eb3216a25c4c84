"""Fake-backend replies and models for the `generate` tests.

`echo` shows the request it got (so tests can see the rendered prompt and parameters);
`answer` fills whatever schema is asked for; `recording` also appends to the file named
by $SYNTHMILL_TEST_CALLS, so a CLI test can prove that no call was made.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, Field

from synthmill.llm.base import Request
from synthmill.records import stable_hash

CALLS: list[Request] = []


class Answer(BaseModel):
    answer: str
    confidence: int = Field(ge=1, le=5)


def echo(request: Request) -> str:
    """Free text naming the turns and sampling parameters (not JSON-wrapped by generate)."""
    CALLS.append(request)
    turns = " || ".join(f"{m['role']}: {m['content']}" for m in request.messages)
    return f"  {turns} || seed={request.seed} t={request.temperature} p={request.top_p}\n"


def answer(request: Request) -> str:
    """A valid JSON object for the requested schema, varying with the prompt; else echo()."""
    if request.json_schema is None:
        return echo(request)  # free text
    CALLS.append(request)
    tag = stable_hash(request.messages, request.seed, length=6)
    values: dict[str, object] = {}
    for name, prop in request.json_schema.get("properties", {}).items():
        if "enum" in prop:
            values[name] = prop["enum"][0]
        elif prop.get("type") == "integer":
            values[name] = prop.get("minimum", 1)
        else:
            values[name] = f"{name} {tag}"
    return json.dumps(values)


def out_of_range(request: Request) -> str:
    """Valid JSON whose confidence breaks the schema's maximum (a 'schema mismatch')."""
    CALLS.append(request)
    return json.dumps({"answer": "sure", "confidence": 9})


def recording(request: Request) -> str:
    """answer(), and a line in $SYNTHMILL_TEST_CALLS for every call."""
    path = os.environ.get("SYNTHMILL_TEST_CALLS")
    if path:
        with Path(path).open("a") as f:
            f.write(request.messages[-1]["content"] + "\n")
    return answer(request)


_SEEN: set[str] = set()


def empty_first(request: Request) -> str:
    """An empty reply the first time a prompt is asked, text after (a retry's new seed)."""
    CALLS.append(request)
    prompt = request.messages[-1]["content"]
    if prompt not in _SEEN:
        _SEEN.add(prompt)
        return "\n"
    return f"second try for {prompt}"
