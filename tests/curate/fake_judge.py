"""Judge replies for FakeBackend(function=...): scores from keywords in the judged text."""

from __future__ import annotations

import json

from synthmill.llm.base import Request

GOOD = ("theorem", "proof", "lemma", "derivative", "integral", "equation")


def reply(request: Request) -> str:
    text = request.messages[1]["content"].lower()  # the judged text, also on retries
    if "garbage" in text:
        return "not json at all"
    hits = sum(word in text for word in GOOD)
    return json.dumps({"score": min(5, 1 + 2 * hits), "reason": f"{hits} maths words"})
