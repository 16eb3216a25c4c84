"""Fake-backend replies that let the README's quickstart run without the model.

A question for the free-text step (built from the topic in the prompt, so it passes the
quickstart's on-topic filter) and a one-sentence answer for the schema step. The rows
are deterministic, so a test can compare them; what a real model writes is not tested
here (tests/recipes/test_generate_quickstart.py runs the embedded model).
"""

from __future__ import annotations

import json
import re

from synthmill.llm.base import Request


def quiz(request: Request) -> str:
    prompt = request.messages[-1]["content"]
    if request.json_schema is not None:
        about = prompt.rstrip("?").split()[-1]
        return json.dumps({"answer": f"Any good textbook explains this about {about} well."})
    found = re.search(r"question about (.+?)\. Difficulty: (\w+)", prompt)
    topic, level = found.groups() if found else ("science", "beginner")
    return f"What is one {level} fact about {topic}?"
