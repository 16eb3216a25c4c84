"""`backtranslate` (Humpback, Li et al. 2023): instruction from a document, then a 1-5
self-curation grade; low grades rejected with their score (fake backend, embedded model)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from synthmill import Pipeline
from synthmill.export import export
from synthmill.llm.base import Request
from synthmill.pipeline.stage import StageContext
from synthmill.recipes.backtranslate import REASON_LOW, Backtranslate
from synthmill.records import Record
from tests.conftest import REPO
from tests.helpers import MAY_BE_EMPTY
from tests.recipes.test_embedded import kept, rejects

HERE = "tests.recipes.test_backtranslate"
SENT: list[Request] = []
DOCS = [
    "Tides rise twice a day. GRADE=5",
    "Bees dance to share food. GRADE=2",
    "Fog forms at dawn. GRADE=4",
]


def reply(request: Request, score: object = None) -> str:
    """An instruction naming the document's first word; the grade the document asks for."""
    SENT.append(request)
    text = request.messages[-1]["content"]
    if "score" not in (request.json_schema or {}).get("properties", {}):
        word = re.search(r"Text: (\w+)", text)
        return json.dumps({"instruction": f"Tell me about {word.group(1) if word else '?'}"})
    grade = re.search(r"GRADE=(\d)", text)
    value = score if score is not None else int(grade.group(1)) if grade else 3
    return json.dumps({"reason": "it answers", "score": value})


def too_high(request: Request) -> str:
    return reply(request, score=9)


def blank(request: Request) -> str:
    SENT.append(request)
    return json.dumps({"instruction": "   "})


def stage(function: str = "reply", **options: Any) -> Backtranslate:
    backend = {"type": "fake", "function": f"{HERE}:{function}", "model": "fake-m"}
    return Backtranslate.model_validate({"backend": backend, **options})


def docs() -> list[Record]:
    return [Record.new({"text": d}, key=i, stage="read") for i, d in enumerate(DOCS)]


def ctx() -> StageContext:
    return StageContext(seed=2, stage="backtranslate")


def test_pairs_are_graded_and_low_grades_rejected_with_their_score() -> None:
    parents = docs()
    out = stage().process(parents, ctx())
    assert [r.data["score"] for r in out] == [5, 2, 4]
    assert [r.rejected for r in out] == [False, True, False]
    low = out[1].meta.rejection
    assert low is not None and low.reason == REASON_LOW
    assert low.raw == {"score": 2, "reason": "it answers", "min_score": 4}
    for parent, r in zip(parents, out, strict=True):
        assert r.data["instruction"] == f"Tell me about {parent.data['text'].split()[0]}"
        assert r.data["response"] == parent.data["text"] and r.data["score_reason"] == "it answers"
        assert r.meta.parents == (parent.meta.id,) and r.meta.recipe == "backtranslate"
        assert r.meta.params["calls"] == 2 and r.meta.scores["backtranslate"] == r.data["score"]


def test_the_grader_sees_the_generated_instruction_and_the_document() -> None:
    SENT.clear()
    out = stage().process(docs()[:1], ctx())
    grader = SENT[1].messages[-1]["content"]
    assert f"Instruction: {out[0].data['instruction']}" in grader and f"Answer: {DOCS[0]}" in grader
    assert SENT[1].json_schema["properties"]["score"]["maximum"] == 5  # type: ignore[index]


def test_threshold_is_an_option_and_is_checked() -> None:
    assert not any(r.rejected for r in stage(min_score=2).process(docs(), ctx()))
    assert [r.rejected for r in stage(min_score=5).process(docs(), ctx())] == [False, True, True]
    with pytest.raises(ValueError):
        stage(min_score=6)


def test_out_of_range_grade_and_blank_instruction_are_rejected_not_kept() -> None:
    out = stage("too_high", retries=0).process(docs(), ctx())
    assert all(r.meta.rejection and r.meta.rejection.reason == "schema mismatch" for r in out)
    SENT.clear()
    empty = stage("blank").process(docs(), ctx())
    assert all(r.meta.rejection and r.meta.rejection.reason == "empty instruction" for r in empty)
    assert len(SENT) == 3  # nothing was graded


def test_prompt_override_changes_what_is_sent_and_the_hash() -> None:
    base = stage().process(docs()[:1], ctx())[0]
    SENT.clear()
    custom = stage(prompts={"instruction": "Text: {{ response }}. What was asked?"})
    r = custom.process(docs()[:1], ctx())[0]
    assert SENT[0].messages[-1]["content"] == f"Text: {DOCS[0]}. What was asked?"
    assert r.meta.prompt_hash != base.meta.prompt_hash
    with pytest.raises(ValueError, match="did you mean 'curate'"):
        stage(prompts={"curation": "x"})


def test_kept_pairs_export_as_alpaca(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"text": d}) + "\n" for d in DOCS))
    config = {
        "backend": {"type": "fake", "function": f"{HERE}:reply"},
        "stages": [{"use": "read", "path": str(src)}, {"use": "backtranslate"}],
        "output": {"dir": str(tmp_path / "run")},
    }
    root = Pipeline.from_config(config).run().root
    out = tmp_path / "a.jsonl"
    assert export(root, out, "alpaca").rows == 2
    first = json.loads(out.read_text().splitlines()[0])
    assert first["instruction"] == "Tell me about Tides" and first["output"] == DOCS[0]


@pytest.mark.slow
@pytest.mark.model
def test_embedded_model_run_from_the_example(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"text": "Water boils at 100 degrees Celsius at sea level."}))
    overrides = [
        MAY_BE_EMPTY,
        f"stages.0.path={src}",
        f"output.dir={tmp_path / 'run'}",
        "stages.1.min_score=1",
    ]
    root = Pipeline.from_yaml(REPO / "examples/backtranslate.yaml", overrides).run().root
    made, dropped = kept(root), rejects(root)
    assert len(made) + len(dropped) == 1
    for r in made:
        assert r.data["instruction"] and 1 <= r.data["score"] <= 5
        assert r.meta.recipe == "backtranslate" and str(r.meta.model).startswith("SmolLM2")
        assert r.meta.params["calls"] == 2 and r.meta.prompt_hash and r.meta.parents
    assert all(d["reason"] for d in dropped)
