"""`rephrase` (WRAP, Maini et al. 2024): styles, parents, and the faithfulness checks that drop
rephrasings which lost or invented content (fake backend), then the embedded model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from synthmill import Pipeline
from synthmill.llm.base import Request
from synthmill.pipeline.stage import StageContext
from synthmill.recipes.rephrase import STYLES, Rephrase, content_words
from synthmill.records import Record
from tests.conftest import REPO
from tests.helpers import MAY_BE_EMPTY
from tests.recipes.test_embedded import kept, rejects

HERE = "tests.recipes.test_rephrase"
DOC = (
    "Glaciers carve deep valleys as they slide downhill. Moving ice scrapes rock and carries "
    "boulders far away. When glaciers melt, they leave lakes and ridges of gravel."
)
SENT: list[Request] = []


def source_of(request: Request) -> str:
    return request.messages[-1]["content"].split("Text: ", 1)[-1]


def faithful(request: Request) -> str:
    """The source with its sentences reordered: every content word kept, none invented."""
    SENT.append(request)
    parts = source_of(request).split(". ")
    return json.dumps({"text": ". ".join(reversed(parts))})


def unfaithful(request: Request) -> str:
    """Per style: one that drops most content, one that invents, one too long, one faithful."""
    prompt = request.messages[-1]["content"]
    src = source_of(request)
    if prompt.startswith("Rewrite this text with short"):  # easy: lost content
        text = "Big ice is cold. It goes down hills slowly, like a sled, and then it is gone."
    elif "encyclopedia" in prompt:  # medium: invented content
        text = (
            "Penguins migrate across Antarctic shelves; volcanic eruptions, tectonic plates "
            "and ocean currents reshape coastlines during interglacial periods."
        )
    elif "scholarly" in prompt:  # hard: far too long
        text = (src + " ") * 5
    else:
        text = src
    return json.dumps({"text": text})


def stage(function: str = "faithful", **options: Any) -> Rephrase:
    backend = {"type": "fake", "function": f"{HERE}:{function}", "model": "fake-m"}
    return Rephrase.model_validate({"backend": backend, **options})


def docs(n: int = 2) -> list[Record]:
    return [Record.new({"text": DOC, "doc": i}, key=i, stage="read") for i in range(n)]


def ctx() -> StageContext:
    return StageContext(seed=1, stage="rephrase")


def test_one_row_per_style_each_naming_its_source() -> None:
    parents = docs(2)
    out = stage().process(parents, ctx())
    assert [(r.data["doc"], r.data["style"]) for r in out] == [
        (d, s) for d in (0, 1) for s in STYLES
    ]
    for r in out:
        assert not r.rejected and r.meta.parents == (parents[r.data["doc"]].meta.id,)
        assert r.data["text"] == DOC and r.data["rephrased"] != DOC
        assert r.meta.recipe == "rephrase" and r.meta.model == "fake-m" and r.meta.prompt_hash
        assert r.meta.verdicts["rephrase"]["ok"] is True
    assert len({r.meta.id for r in out}) == 8 and len({r.meta.seed for r in out}) == 8


def test_each_style_has_its_own_prompt_and_overrides_change_the_hash() -> None:
    SENT.clear()
    base = stage(styles=["qa", "easy"]).process(docs(1), ctx())
    assert "'Question: ...'" in SENT[0].messages[-1]["content"]
    assert "simplest everyday words" in SENT[1].messages[-1]["content"]
    SENT.clear()
    custom = stage(styles=["qa"], prompts={"qa": "Make a quiz of: Text: {{ text }}"})
    again = custom.process(docs(1), ctx())
    assert SENT[0].messages[-1]["content"] == f"Make a quiz of: Text: {DOC}"
    assert again[0].meta.prompt_hash != base[0].meta.prompt_hash
    with pytest.raises(ValueError, match="no prompt named 'wiki'"):
        stage(prompts={"wiki": "x"})
    with pytest.raises(ValueError):
        stage(styles=["casual"])


def test_lost_invented_and_bloated_rephrasings_are_rejected_with_measures() -> None:
    out = {r.data["style"]: r for r in stage("unfaithful").process(docs(1), ctx())}
    reasons = {s: (r.meta.rejection.reason if r.meta.rejection else None) for s, r in out.items()}
    assert reasons == {
        "easy": "lost content",
        "medium": "lost content",  # it also lost the source's words
        "hard": "length ratio too long",
        "qa": None,
    }
    assert out["easy"].meta.verdicts["rephrase"]["score"] < 0.25
    assert out["qa"].meta.verdicts["rephrase"] == {"ok": True, "reason": "", "score": 1.0}
    invented = stage("unfaithful", styles=["medium"], min_kept=0.0).process(docs(1), ctx())[0]
    assert invented.meta.rejection is not None
    assert invented.meta.rejection.reason == "invented content"
    raw = invented.meta.rejection.raw
    assert raw["grounded"] < 0.25 and set(raw) == {"ratio", "kept", "grounded"}


def test_bounds_are_options() -> None:
    loose = stage("unfaithful", min_kept=0.0, min_grounded=0.0, max_ratio=10)
    assert not any(r.rejected for r in loose.process(docs(1), ctx()))


def test_content_words_ignore_stopwords_case_and_plurals() -> None:
    assert content_words("The Glaciers and THE glacier were there") == {"glacier"}


def test_missing_document_column_fails_before_any_call(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"txt": DOC}) + "\n")
    config = {
        "backend": {"type": "fake", "function": f"{HERE}:faithful"},
        "stages": [{"use": "read", "path": str(src)}, {"use": "rephrase"}],
        "output": {"dir": str(tmp_path / "o")},
    }
    SENT.clear()
    with pytest.raises(Exception, match="'text'"):
        Pipeline.from_config(config).run()
    assert not SENT and not (tmp_path / "o").exists()


@pytest.mark.slow
@pytest.mark.model
def test_embedded_model_run_from_the_example(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"text": DOC}) + "\n")
    overrides = [
        MAY_BE_EMPTY,
        f"stages.0.path={src}",
        f"output.dir={tmp_path / 'run'}",
        "stages.1.styles=[easy, qa]",
        "stages.1.max_tokens=90",
    ]
    root = Pipeline.from_yaml(REPO / "examples/rephrase.yaml", overrides).run().root
    made, dropped = kept(root), rejects(root)
    assert len(made) + len(dropped) == 2
    for r in made:
        assert r.data["style"] in ("easy", "qa") and r.data["rephrased"] and r.data["text"] == DOC
        assert r.meta.recipe == "rephrase" and str(r.meta.model).startswith("SmolLM2")
        assert r.meta.parents and r.meta.prompt_hash and r.meta.params["json_schema"] is True
    assert all(d["reason"] for d in dropped)
