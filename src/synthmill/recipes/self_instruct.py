"""`self_instruct`: new tasks (instruction, input, output) bootstrapped from seed tasks.

After Wang et al. 2023, "Self-Instruct". Each slot samples a few seed tasks as in-context
examples (and, for small models, a topic to steer away from copying them) and asks for
one new task per call. Run `filter.self_instruct` and `filter.novelty` after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from random import Random
from typing import ClassVar, Literal

from pydantic import BaseModel, Field, model_validator

from synthmill.llm.structured import Structured
from synthmill.pipeline.stage import Source, StageContext
from synthmill.recipes.base import LLMRecipe, clean, emit, json_schema
from synthmill.recipes.seeds import BUILTIN, SeedTask, load_seed_tasks, load_topics
from synthmill.records import Record

RECIPE = "self-instruct"
_TASK_LABEL = re.compile(r"^\s*(task|instruction)\s*\d*\s*[:.)-]\s*", re.IGNORECASE)


class NewTask(BaseModel):
    instruction: str
    input: str = ""
    output: str = ""


class NewInstruction(BaseModel):
    instruction: str


class Instance(BaseModel):
    input: str
    output: str


class SelfInstruct(Source, LLMRecipe):
    kind: ClassVar[str] = "self_instruct"

    n: int = Field(ge=0, description="How many tasks to try to make (slots to fill).")
    seed_tasks: str = Field(default=BUILTIN, description="JSONL of seed tasks, or 'builtin'.")
    examples: int = Field(default=2, ge=1, le=8, description="Seed tasks shown per prompt.")
    topics: str | None = Field(
        default=BUILTIN, description="Topics file steering each prompt ('builtin'; null: off)."
    )
    mode: Literal["joint", "two_step"] = Field(
        default="joint",
        description="joint: one call per task; two_step: instruction, then input and output.",
    )
    max_chars: int = Field(default=240, ge=20, description="Cap on each field's characters.")
    max_tokens: int = Field(default=160, ge=8, description="Tokens per reply; keep it small.")
    batch_size: int = Field(default=8, ge=1, description="Slots handed to process() at once.")

    @model_validator(mode="after")
    def _load_files(self) -> SelfInstruct:
        """Read the seed tasks and topics now, so a bad path fails before any model call."""
        load_seed_tasks(self.seed_tasks)
        if self.topics:
            load_topics(self.topics)
        return self

    def count(self) -> int:
        return self.n

    def input_files(self) -> list[Path]:
        """Seed-task and topic files (not the built-ins), fingerprinted in run.json."""
        named = [self.seed_tasks, self.topics]
        return [Path(f) for f in named if f and f != BUILTIN and Path(f).is_file()]

    def writes(self) -> list[str]:
        return ["instruction", "input", "output"]

    def rows(self, ctx: StageContext) -> Iterator[Record]:
        for i in range(self.n):
            yield Record.new({"slot": i}, key=i, stage=self.label, seed=ctx.seed)

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        plans = [self.plan(slot, ctx) for slot in batch]
        if self.mode == "joint":
            prompts = [joint_prompt(ex, topic) for ex, topic in plans]
            schema = json_schema(dict.fromkeys(("instruction", "input", "output"), self.max_chars))
            reqs = [
                self.request(p, ctx, s.meta.id, schema) for p, s in zip(prompts, batch, strict=True)
            ]
            results = self.ask(reqs, NewTask, ctx)
            return [
                self._row(s, ex, r) for s, (ex, _), r in zip(batch, plans, results, strict=True)
            ]
        return self._two_step(batch, plans, ctx)

    def plan(self, slot: Record, ctx: StageContext) -> tuple[list[SeedTask], str | None]:
        """The seed tasks shown and the topic asked for, drawn from this slot's own rng."""
        rng = ctx.rng(slot.meta.id)
        pool = load_seed_tasks(self.seed_tasks)
        examples = rng.sample(pool, min(self.examples, len(pool)))
        return examples, _topic(rng, self.topics)

    def _two_step(
        self, batch: list[Record], plans: list[tuple[list[SeedTask], str | None]], ctx: StageContext
    ) -> list[Record]:
        schema = json_schema({"instruction": self.max_chars})
        reqs = [
            self.request(instruction_prompt(ex, topic), ctx, s.meta.id, schema)
            for s, (ex, topic) in zip(batch, plans, strict=True)
        ]
        firsts = self.ask(reqs, NewInstruction, ctx)
        ok = [i for i, r in enumerate(firsts) if r.value is not None]
        schema2 = json_schema(dict.fromkeys(("input", "output"), self.max_chars))
        reqs2 = [
            self.request(
                instance_prompt(_instruction(firsts[i])), ctx, (batch[i].meta.id, 2), schema2
            )
            for i in ok
        ]
        seconds = dict(zip(ok, self.ask(reqs2, Instance, ctx), strict=True))
        out = []
        for i, (slot, (ex, _)) in enumerate(zip(batch, plans, strict=True)):
            second = seconds.get(i)
            if second is None or second.value is None:
                out.append(self._row(slot, ex, second or firsts[i]))
                continue
            task = NewTask(instruction=_instruction(firsts[i]), **second.value.model_dump())
            row = self._row(slot, ex, second, task)
            first = firsts[i].request  # the instruction's own call, beside the instance's
            step1 = {"instruction_prompt_hash": first.prompt_hash(), "instruction_seed": first.seed}
            out.append(row.with_meta(params={**row.meta.params, **step1}))
        return out

    def _row(
        self,
        slot: Record,
        examples: list[SeedTask],
        result: Structured[NewTask] | Structured[Instance] | Structured[NewInstruction],
        task: NewTask | None = None,
    ) -> Record:
        value = task or result.value
        data: dict[str, object] = {"instruction": "", "input": "", "output": ""}
        if isinstance(value, NewTask):
            data = {
                "instruction": _TASK_LABEL.sub("", clean(value.instruction)),
                "input": _no_input(clean(value.input)),
                "output": clean(value.output),
            }
        parents = tuple(e.id for e in examples)
        return emit(
            result, data, key=slot.data["slot"], stage=self.label, recipe=RECIPE, parents=parents
        )


def _instruction(result: Structured[NewInstruction]) -> str:
    assert result.value is not None
    return _TASK_LABEL.sub("", clean(result.value.instruction))


def _no_input(text: str) -> str:
    """Small models spell an empty input as 'none', '(none)', 'N/A' or 'empty'."""
    return "" if text.lower().strip("().") in {"none", "n/a", "na", "empty", "null", "-"} else text


def _topic(rng: Random, source: str | None) -> str | None:
    return rng.choice(load_topics(source)) if source else None


def _show(task: SeedTask, with_instance: bool = True) -> str:
    if not with_instance:
        return f"- {task.instruction}"
    output = task.output if len(task.output) <= 120 else task.output[:117] + "..."
    return f"Instruction: {task.instruction}\nInput: {task.input}\nOutput: {output}"


def joint_prompt(examples: list[SeedTask], topic: str | None) -> str:
    """Ask for one complete new task, shown a few seed tasks as examples.

    The reply format comes from the JSON schema; naming JSON in the prompt makes small
    models write about JSON instead.
    """
    shown = "\n\n".join(_show(t) for t in examples)
    one = len(examples) == 1
    head = "Here is a task" if one else "Here are tasks"
    about = f" about {topic}" if topic else ""
    return (
        f"{head} for an AI assistant.\n{shown}\n\n"
        f"Write a new task{about}: a different instruction, its input (may be empty) "
        "and its output."
    )


def instruction_prompt(examples: list[SeedTask], topic: str | None) -> str:
    """Self-Instruct step 1: a new instruction only."""
    shown = "\n".join(_show(t, with_instance=False) for t in examples)
    about = f" about {topic}" if topic else ""
    return (
        f"Here are instructions for an AI assistant:\n{shown}\n\n"
        f"Write one new, different instruction{about}."
    )


def instance_prompt(instruction: str) -> str:
    """Self-Instruct step 2 (input-first): an input for the instruction and its output."""
    return (
        f"Task: {instruction}\n\nWrite an input for this task (may be empty) and the "
        "output a good assistant would give."
    )
