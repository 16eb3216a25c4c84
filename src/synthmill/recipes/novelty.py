"""`filter.novelty`: keep a task only if it is new: ROUGE-L below 0.7 against the pool.

The pool starts with the seed tasks and grows with every kept row, in the order rows
arrive (slot order), so a rerun keeps exactly the same rows. As in Self-Instruct.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import ClassVar

from pydantic import Field, field_validator

from synthmill.pipeline.stage import GlobalStage, StageContext
from synthmill.recipes.seeds import BUILTIN, load_seed_tasks
from synthmill.recipes.text import rouge_l, words
from synthmill.records import Record, Verdict

REASON = "too similar to an earlier task"


class NoveltyFilter(GlobalStage):
    kind: ClassVar[str] = "filter.novelty"

    column: str = Field(default="instruction", description="Column compared.")
    threshold: float = Field(default=0.7, gt=0.0, le=1.0, description="Drop at ROUGE-L >= this.")
    seed_tasks: str | None = Field(
        default=BUILTIN, description="Seed tasks that start the pool ('builtin', a JSONL, null)."
    )

    @field_validator("seed_tasks")
    @classmethod
    def _readable(cls, value: str | None) -> str | None:
        if value is not None:
            load_seed_tasks(value)
        return value

    def reads(self) -> list[str]:
        return [self.column]

    def process_all(self, records: Iterable[Record], ctx: StageContext) -> Iterator[Record]:
        pool = Pool()
        if self.seed_tasks is not None:
            for task in load_seed_tasks(self.seed_tasks):
                pool.add(task.instruction)
        for record in records:
            text = str(record.data.get(self.column) or "")
            best, match = pool.most_similar(text)
            verdict = Verdict(best < self.threshold, "" if best < self.threshold else REASON, best)
            record = record.with_verdict(self.label, verdict)
            if verdict.ok:
                pool.add(text)
                yield record
            else:
                yield record.reject(self.label, REASON, {"rouge_l": best, "most_similar": match})


class Pool:
    """Texts seen so far, with a cheap bound that skips most ROUGE-L computations."""

    def __init__(self) -> None:
        self.items: list[tuple[str, list[str], Counter[str]]] = []

    def add(self, text: str) -> None:
        tokens = words(text)
        self.items.append((text, tokens, Counter(tokens)))

    def most_similar(self, text: str) -> tuple[float, str | None]:
        """The highest ROUGE-L F1 against the pool and the text that reached it."""
        tokens = words(text)
        bag = Counter(tokens)
        best, match = 0.0, None
        for other, other_tokens, other_bag in self.items:
            if not tokens or not other_tokens:
                continue
            common = sum((bag & other_bag).values())  # the LCS is never longer than this
            bound = 2 * common / (len(tokens) + len(other_tokens))
            if bound <= best:
                continue
            score = rouge_l(tokens, other_tokens)
            if score > best:
                best, match = score, other
        return best, match
