"""Fake-backend replies for the report tests: some hostile (HTML that must stay text)."""

from __future__ import annotations

import json

from synthmill.llm.base import Request
from synthmill.records import stable_hash

HOSTILE = [
    "What is <script>document.body.setAttribute('data-pwned','1')</script> in {topic}?",
    "Why </script><img src=x onerror=\"document.title='pwned'\"> about {topic}?",
    "How do {topic} work & why <!-- not a comment --> matter?",
]


def question(request: Request) -> str:
    """A question about the prompt's topic; one in three hostile, one in four not a question."""
    prompt = request.messages[-1]["content"]
    topic = prompt.split("about ")[-1].split(".")[0]
    k = int(stable_hash(prompt, request.seed, length=8), 16)
    if k % 4 == 0:
        return f"I cannot write about {topic}"
    if k % 3 == 0:
        return HOSTILE[k % len(HOSTILE)].format(topic=topic)
    return f"What is special about {topic}, case {k % 97}?"


def answer(request: Request) -> str:
    """A JSON answer; for one question in four always broken JSON (rejected, raw kept)."""
    first = next(m["content"] for m in request.messages if m["role"] == "user")
    k = int(stable_hash(first, length=8), 16)
    if k % 4 == 0:
        return '{"answer": "cut off <b>mid'
    return json.dumps({"answer": f"It is a thing that matters, number {k % 1000}."})


def solver(request: Request) -> str:
    """RL samples: answers '4' (right for some arithmetic problems), code that fails."""
    if "python" in request.messages[-1]["content"].lower():
        return json.dumps({"code": "def f():\n    return 0\n"})
    return json.dumps({"solution": "I worked it out.", "answer": "4"})


def slow_question(request: Request) -> str:
    """A question, a little slowly (for the progress-line test)."""
    import time

    time.sleep(0.1)
    return f"What is {request.messages[-1]['content'][-12:]}?"
