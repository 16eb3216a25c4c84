"""Reply functions for FakeBackend(function=...) in tests: they model a flaky model."""

from __future__ import annotations

import json

from synthmill.llm.base import Request


def fixed_on_retry(request: Request) -> str:
    """Bad JSON on the first try, a valid object once the error was fed back."""
    if len(request.messages) == 1:
        return "Sure! Here is the answer: {not json"
    return json.dumps({"question": request.messages[0]["content"], "answer": "yes"})


def wrong_schema(request: Request) -> str:
    """Valid JSON that never matches the schema."""
    return json.dumps({"question": 3})


def echo(request: Request) -> str:
    """A valid object derived from the prompt."""
    return json.dumps({"question": request.messages[-1]["content"], "answer": "ok"})


DIE_AFTER = {"calls": -1}  # set to n >= 0 to make the n+1-th call raise (a kill mid-batch)


def dies_after(request: Request) -> str:
    """echo(), but raises once DIE_AFTER["calls"] calls were made (then stays dead)."""
    if DIE_AFTER["calls"] == 0:
        raise RuntimeError("killed mid-batch")
    DIE_AFTER["calls"] -= 1
    return echo(request)
