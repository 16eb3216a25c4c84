"""`filter.self_instruct`: the Self-Instruct paper's heuristic filters for generated tasks.

Drops instructions that are too short or too long, that mention what a text model cannot
handle (images, files, audio...), that ask for a program, that begin with punctuation or
a non-English character, and tasks whose output is empty or merely repeats the input.
Beyond the paper: instructions that echo the generation prompt, outputs that repeat
the instruction.
"""

from __future__ import annotations

import re
import string
from typing import ClassVar

from pydantic import Field

from synthmill.pipeline.stage import Check
from synthmill.recipes.text import words
from synthmill.records import Record, Verdict

BLACKLIST = (
    "image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map",
    "maps", "draw", "plot", "go to", "video", "audio", "music", "flowchart", "diagram",
)  # fmt: skip
# Small models write the request itself back ("A new task for the AI assistant...").
ECHOES = ("new task", "another task", "different task", "new instruction", "ai assistant")


class SelfInstructFilter(Check):
    kind: ClassVar[str] = "filter.self_instruct"

    min_words: int = Field(default=3, ge=0, description="Fewer instruction words: dropped.")
    max_words: int = Field(default=150, ge=1, description="More instruction words: dropped.")
    blacklist: list[str] = Field(
        default=list(BLACKLIST), description="Words or phrases a text-only model cannot serve."
    )
    echoes: list[str] = Field(
        default=list(ECHOES), description="Phrases of the generation prompt echoed back."
    )
    require_output: bool = Field(default=True, description="Drop tasks with an empty output.")

    def reads(self) -> list[str]:
        return ["instruction", *(["output"] if self.require_output else [])]

    def check(self, record: Record) -> Verdict:
        instruction = str(record.data.get("instruction") or "").strip()
        reason = self._instruction_problem(instruction) or self._instance_problem(record)
        return Verdict(reason is None, reason or "", float(len(instruction.split())))

    def _instruction_problem(self, text: str) -> str | None:
        n = len(text.split())
        if n < self.min_words:
            return "instruction too short"
        if n > self.max_words:
            return "instruction too long"
        joined = " " + " ".join(words(text)) + " "
        if any(f" {w.lower()} " in joined for w in self.blacklist):
            return "needs a modality a text model lacks"
        if any(e.lower() in text.lower() for e in self.echoes):
            return "echoes the generation prompt"
        if text.lower().startswith("write a program"):
            return "asks for a program"
        if text[0] in string.punctuation:
            return "starts with punctuation"
        if not re.match(r"[A-Za-z]", text[0]):
            return "starts with a non-English character"
        return None

    def _instance_problem(self, record: Record) -> str | None:
        output = str(record.data.get("output") or "").strip()
        given = str(record.data.get("input") or "").strip()
        if self.require_output and not output:
            return "empty output"
        if output and words(output) == words(given):
            return "output repeats the input"
        instruction = words(str(record.data.get("instruction") or ""))
        if output and words(output) == instruction:
            return "output repeats the instruction"
        return None
