"""Replies cut off at max_tokens (finish_reason: length) are rejected by default, with
that reason: free text (`generate ... output:`) and structured replies alike."""

from __future__ import annotations

from collections.abc import Sequence

from synthmill.llm.base import Completion, Request
from synthmill.llm.fake import FakeBackend
from synthmill.pipeline.stage import StageContext
from synthmill.recipes.generate import REASON_TRUNCATED, Generate
from synthmill.records import Record


class CutOff(FakeBackend):
    """Replies as a server gives them: a prompt naming 'moon' runs out of tokens."""

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        out = []
        for r in requests:
            cut = "moon" in r.messages[0]["content"]  # retries with feedback too
            if r.json_schema is not None:
                text = '{"answer": "The moon is a' if cut else '{"answer": "Tides follow it."}'
            else:
                text = "What pulls the tides of the moo" if cut else "What pulls the tides?"
            out.append(Completion(text, "cut", 5, 9, finish_reason="length" if cut else "stop"))
        return out


def rows() -> list[Record]:
    return [Record.new({"topic": t}, key=t, stage="src") for t in ("the moon", "tides")]


def test_a_free_text_reply_cut_at_max_tokens_is_rejected_with_that_reason() -> None:
    stage = Generate(prompt="Ask about {{ topic }}.", output="q", backend=CutOff(), max_tokens=9)
    moon, tides = stage.process(rows(), StageContext(seed=1, stage="generate"))
    assert moon.rejected and moon.meta.rejection is not None
    assert moon.meta.rejection.reason == REASON_TRUNCATED == "truncated at max_tokens"
    assert "finish_reason: length" in moon.meta.rejection.raw["error"]
    assert moon.meta.rejection.raw["output"] == "What pulls the tides of the moo"
    assert not tides.rejected and tides.data["q"] == "What pulls the tides?"


def test_keep_truncated_keeps_it() -> None:
    stage = Generate(
        prompt="Ask about {{ topic }}.", output="q", backend=CutOff(), keep_truncated=True
    )
    moon, _ = stage.process(rows(), StageContext(seed=1, stage="generate"))
    assert not moon.rejected and moon.data["q"].endswith("moo")


def test_a_structured_reply_cut_off_says_so_instead_of_invalid_json() -> None:
    stage = Generate(prompt="About {{ topic }}", schema={"answer": "str"}, backend=CutOff())
    moon, tides = stage.process(rows(), StageContext(seed=1, stage="generate"))
    assert moon.meta.rejection is not None and moon.meta.rejection.reason == REASON_TRUNCATED
    assert "max_tokens" in moon.meta.rejection.raw["error"]
    assert not tides.rejected and tides.data["answer"] == "Tides follow it."
