"""A minimal generation stage for backend tests: one structured call per row."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel

from synthmill.llm import BackendField, Request, backend_option, complete_structured
from synthmill.pipeline.stage import Stage, StageContext
from synthmill.records import Record


class QA(BaseModel):
    question: str
    answer: str


class AskQA(Stage):
    kind: ClassVar[str] = "test.ask_qa"
    backend: BackendField = backend_option()
    retries: int = 2
    max_tokens: int = 48

    def reads(self) -> list[str]:
        return ["index"]

    def writes(self) -> list[str]:
        return ["question", "answer"]

    def request(self, record: Record, ctx: StageContext) -> Request:
        text = f"Write one question and its answer about row {record.data['index']}."
        seed = ctx.rng(record.meta.id).randrange(2**31)
        messages = ({"role": "user", "content": text},)
        return Request(messages=messages, max_tokens=self.max_tokens, seed=seed)

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        requests = [self.request(r, ctx) for r in batch]
        results = complete_structured(self.backend, requests, QA, ctx, self.retries)
        out = []
        for record, res in zip(batch, results, strict=True):
            if res.value is not None:
                data = res.value.model_dump()
                out.append(record.child(data, stage=self.label, **res.provenance()))
            else:
                out.append(record.reject(self.label, res.reason or "", raw=res.rejection()))
        return out


class Rephrase(AskQA):
    """A second model stage: asks about the question the first one wrote."""

    kind: ClassVar[str] = "test.rephrase"

    def reads(self) -> list[str]:
        return ["question"]

    def request(self, record: Record, ctx: StageContext) -> Request:
        text = f"Rephrase this question: {record.data['question']}"
        seed = ctx.rng(record.meta.id).randrange(2**31)
        messages = ({"role": "user", "content": text},)
        return Request(messages=messages, max_tokens=self.max_tokens, seed=seed)
