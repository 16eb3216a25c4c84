"""Structured output on the fake backend: outcomes, retries with feedback, accounting."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from synthmill.llm import Completion, Request, complete, complete_structured
from synthmill.llm.fake import FakeBackend
from synthmill.llm.structured import REASON_CALL, REASON_JSON, REASON_SCHEMA, extract_json
from synthmill.pipeline.stage import StageContext
from synthmill.records import Record


class QA(BaseModel):
    question: str
    answer: str


def _requests(n: int) -> list[Request]:
    return [Request(messages=({"role": "user", "content": f"q{i}"},), seed=i) for i in range(n)]


def test_fake_backend_is_deterministic_and_cycles() -> None:
    fake = FakeBackend(replies=["a", "b", "c"])
    first = [c.text for c in fake.complete(_requests(12))]
    assert first == [c.text for c in fake.complete(_requests(12))]
    assert set(first) == {"a", "b", "c"}


def test_ok_after_retry_feeds_the_error_back() -> None:
    fake = FakeBackend(function="tests.llm.replies:fixed_on_retry")
    ctx = StageContext(seed=0, stage="t")
    results = complete_structured(fake, _requests(3), QA, ctx, retries=1)
    assert all(r.ok and r.attempts == 2 for r in results)
    assert [r.value.question for r in results if r.value] == ["q0", "q1", "q2"]
    assert ctx.counters["structured.ok_after_retry"] == 3
    assert ctx.counters["llm.calls"] == 6


def test_failures_keep_raw_output_and_reason() -> None:
    fake = FakeBackend(function="tests.llm.replies:wrong_schema")
    ctx = StageContext(seed=0, stage="t")
    results = complete_structured(fake, _requests(2), QA, ctx, retries=2)
    assert [r.reason for r in results] == [REASON_SCHEMA, REASON_SCHEMA]
    assert all(r.attempts == 3 and r.raw == '{"question": 3}' for r in results)
    assert "question" in results[0].rejection()["error"]
    assert ctx.counters["structured.failed"] == 2


def test_no_json_and_call_failures_are_categorized() -> None:
    bad = complete_structured(FakeBackend(replies=["nope"]), _requests(1), QA, retries=0)
    assert bad[0].reason == REASON_JSON
    failing = FakeBackend(replies=["x"], fail_every=1)
    ctx = StageContext(seed=0, stage="t")
    res = complete_structured(failing, _requests(2), QA, ctx, retries=3)
    assert [r.reason for r in res] == [REASON_CALL, REASON_CALL]
    assert ctx.counters["llm.failures"] == 2 and ctx.counters["llm.calls"] == 2


def test_provenance_goes_into_the_child_record() -> None:
    fake = FakeBackend(function="tests.llm.replies:echo", model="m1")
    (res,) = complete_structured(fake, _requests(1), QA)
    parent = Record.new({"x": 1}, key=0, stage="seed", origin="real")
    child = parent.child(
        {"q": res.value.question if res.value else ""}, stage="s", **res.provenance()
    )
    assert child.meta.model == "m1" and child.meta.seed == 0
    assert child.meta.prompt_hash == res.request.prompt_hash()
    assert child.meta.params["json_schema"] is True and child.meta.params["attempts"] == 1
    assert child.meta.parents == (parent.meta.id,)


def test_cache_serves_a_repeated_batch(tmp_path: object) -> None:
    fake = FakeBackend(replies=["a", "b"])
    first_ctx = StageContext(seed=0, stage="t", cache_dir=str(tmp_path))
    first = complete(fake, _requests(5), first_ctx)
    ctx = StageContext(seed=0, stage="t", cache_dir=str(tmp_path))
    again = complete(fake, _requests(5), ctx)
    assert [c.text for c in again] == [c.text for c in first]
    assert all(c.cached for c in again) and not any(c.cached for c in first)
    assert ctx.counters["llm.cache_hits"] == 5 and ctx.counters["llm.calls"] == 0
    assert first_ctx.counters["llm.calls"] == 5
    db = sqlite3.connect(Path(str(tmp_path)) / "llm-responses.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    db.close()


def test_extract_json_tolerates_fences() -> None:
    assert extract_json('```json\n{"a": {"b": 1}}\n```') == '{"a": {"b": 1}}'


class _Override(FakeBackend):
    """A test double that replaces complete() of a backend that streams its calls."""

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        return [Completion("overridden", "m") for _ in requests]


def test_a_subclass_overriding_complete_is_not_bypassed(tmp_path: Path) -> None:
    ctx = StageContext(seed=0, stage="t", cache_dir=str(tmp_path))
    assert [c.text for c in complete(_Override(), _requests(2), ctx)] == ["overridden"] * 2
    assert ctx.counters["llm.calls"] == 2


def test_raw_newlines_inside_strings_are_kept_not_rejected() -> None:
    # llama.cpp's JSON grammar lets a raw newline or tab into a string; it is the model's text.
    reply = '{"question": "Why?\nTell me.", "answer": "Because\tit is."}'
    res = complete_structured(FakeBackend(replies=[reply]), _requests(1), QA, retries=0)
    assert res[0].ok and res[0].value is not None
    assert res[0].value.question == "Why?\nTell me." and res[0].value.answer == "Because\tit is."
