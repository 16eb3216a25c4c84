"""`oss_instruct`: a self-contained coding problem, solution and tests from a seed snippet.

OSS-Instruct (Wei et al. 2023, "Magicoder: Empowering Code Generation with OSS-Instruct",
arXiv:2312.02120): a snippet of real code inspires a new problem, so the problems are as
varied as the code they come from. Rows gain `problem`, `entry_point`, `solution` and
`tests` (a HumanEval-style `check(candidate)`), the shape `verify.code` judges in the
sandbox; follow it with `verify.code` to keep only solutions that pass their tests. A
reply whose solution does not define `entry_point`, or whose tests define no `check`, is
rejected here before any code runs.

    - use: read
      path: src/                 # a folder of files: one row per file
      format: text
      text_column: code
    - use: oss_instruct
    - use: verify.code
"""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import BaseModel, Field

from synthmill.pipeline.stage import StageContext
from synthmill.recipes.base import emit_child, json_schema
from synthmill.recipes.prompted import PromptedRecipe, prompts_field, text_of
from synthmill.records import Record

RECIPE = "oss_instruct"
REASON_SHAPE = "malformed problem"

PROMPTS = {
    "problem": (
        "Here is a piece of code for inspiration:\n\n{{ snippet }}\n\nInvent a small, "
        "self-contained Python programming problem inspired by it (it must not need the "
        "code above). Give: the problem statement; the name of the one function that solves "
        "it; the solution, a complete Python function with that name; and tests, a function "
        "`def check(candidate):` with a few `assert candidate(...) == ...` lines."
    ),
}


class CodeProblem(BaseModel):
    problem: str
    entry_point: str
    solution: str
    tests: str


class OSSInstruct(PromptedRecipe):
    """One coding problem, solution and tests per seed snippet (per sample)."""

    kind: ClassVar[str] = "oss_instruct"
    PROMPTS: ClassVar[dict[str, str]] = PROMPTS
    PROVIDES: ClassVar[frozenset[str]] = frozenset({"snippet"})

    prompts: dict[str, str] = prompts_field(PROMPTS)
    column: str = Field(default="code", description="Column with the seed code snippet.")
    n: int = Field(default=1, ge=1, le=100, description="Problems per snippet, each its own row.")
    max_snippet_chars: int = Field(
        default=1500, ge=50, description="The snippet is cut to this many characters."
    )
    max_chars: int = Field(default=600, ge=50, le=800, description="Cap on each field.")
    max_tokens: int = Field(default=512, ge=8, description="Tokens per reply.")
    batch_size: int = Field(default=4, ge=1, description="Rows handed to process() at once.")

    def reads(self) -> list[str]:
        return list(dict.fromkeys([self.column, *self.template_reads()]))

    def writes(self) -> list[str]:
        return ["problem", "entry_point", "solution", "tests"]

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        cap = self.max_chars
        schema = json_schema({"problem": cap, "entry_point": 60, "solution": cap, "tests": cap})
        jobs = [(r, k) for r in batch for k in range(self.n)]
        requests = [
            self.request(
                self.fill("problem", r.data, snippet=self.snippet(r)), ctx, (r.meta.id, k), schema
            )
            for r, k in jobs
        ]
        out = []
        for (record, k), result in zip(jobs, self.ask(requests, CodeProblem, ctx), strict=True):
            data = {**record.data, **{f: text_of(result, f) for f in self.writes()}}
            key = record.meta.id if self.n == 1 else (record.meta.id, k)
            row = emit_child(result, record, data, stage=self.label, recipe=RECIPE, key=key)
            problem = shape_problem(data)
            out.append(
                row
                if row.rejected or not problem
                else row.reject(self.label, REASON_SHAPE, {"problem": problem})
            )
        return out

    def snippet(self, record: Record) -> str:
        return str(record.data.get(self.column) or "")[: self.max_snippet_chars]


def shape_problem(data: dict[str, str]) -> str:
    """What is wrong with a reply's shape ('' when nothing): names and definitions."""
    name = data["entry_point"]
    if not name.isidentifier():
        return f"entry_point {name!r} is not a Python name"
    if not re.search(rf"^\s*def {re.escape(name)}\s*\(", data["solution"], re.MULTILINE):
        return f"the solution does not define {name}()"
    if not re.search(r"^\s*def check\s*\(", data["tests"], re.MULTILINE):
        return "the tests define no check(candidate)"
    return ""
