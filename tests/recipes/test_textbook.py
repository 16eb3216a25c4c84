"""`textbook` (Phi-1; Cosmopedia): one text per topic x audience x format row, the format's
own prompt, short texts rejected; the mix comes from `sample` (fake backend, embedded model)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from synthmill import Pipeline
from synthmill.errors import DataError
from synthmill.llm.base import Request
from synthmill.pipeline.stage import StageContext
from synthmill.recipes.textbook import REASON_SHORT, Textbook
from synthmill.records import Record
from tests.conftest import REPO
from tests.helpers import MAY_BE_EMPTY
from tests.recipes.test_embedded import kept, rejects

HERE = "tests.recipes.test_textbook"
SENT: list[Request] = []


def writer(request: Request) -> str:
    """A text that repeats the prompt: long enough unless the prompt says 'tiny'."""
    SENT.append(request)
    prompt = request.messages[-1]["content"]
    text = "Short." if "tiny" in prompt else " ".join([prompt] * 3)
    return json.dumps({"text": text})


def stage(**options: Any) -> Textbook:
    backend = {"type": "fake", "function": f"{HERE}:writer", "model": "fake-m"}
    return Textbook.model_validate({"backend": backend, **options})


def rows(*specs: tuple[str, str, str]) -> list[Record]:
    data = [{"topic": t, "audience": a, "format": f} for t, a, f in specs]
    return [Record.new(d, key=i, stage="sample") for i, d in enumerate(data)]


def ctx() -> StageContext:
    return StageContext(seed=9, stage="textbook")


def test_each_format_has_its_prompt_filled_with_topic_and_audience() -> None:
    SENT.clear()
    specs = [("tides", "children", f) for f in ("textbook", "story", "blog", "howto")]
    out = stage().process(rows(*specs), ctx())
    prompts = [q.messages[-1]["content"] for q in SENT]
    assert prompts[0].startswith("Write a section of a textbook about tides for children.")
    assert "short story for children" in prompts[1] and "blog post about tides" in prompts[2]
    assert "how-to guide about tides for children" in prompts[3]
    for r, spec in zip(out, specs, strict=True):
        assert not r.rejected and (r.data["topic"], r.data["format"]) == (spec[0], spec[2])
        assert len(r.data["text"].split()) >= 30 and r.meta.recipe == "textbook"
        assert r.meta.parents and r.meta.prompt_hash


def test_short_texts_are_rejected_and_unknown_formats_stop_the_run() -> None:
    short = stage().process(rows(("tiny things", "adults", "blog")), ctx())[0]
    assert short.meta.rejection is not None and short.meta.rejection.reason == REASON_SHORT
    assert short.meta.rejection.raw == {"words": 1}
    with pytest.raises(DataError, match="format 'essay' in column 'format' is not one of"):
        stage().process(rows(("tides", "adults", "essay")), ctx())


def test_prompt_override_by_format_changes_the_hash() -> None:
    base = stage().process(rows(("tides", "adults", "story")), ctx())[0]
    custom = stage(prompts={"story": "A fable on {{ topic }} for {{ audience }}, " * 3})
    again = custom.process(rows(("tides", "adults", "story")), ctx())[0]
    assert again.data["text"].startswith("A fable on tides for adults")
    assert again.meta.prompt_hash != base.meta.prompt_hash


def test_the_example_mix_comes_from_sample(tmp_path: Path) -> None:
    backend = f"backend={{type: fake, function: '{HERE}:writer'}}"
    overrides = [backend, f"output.dir={tmp_path / 'run'}", "stages.0.n=40"]
    root = Pipeline.from_yaml(REPO / "examples/textbook.yaml", overrides).run().root
    made = kept(root)
    formats = Counter(r.data["format"] for r in made)
    assert len(made) == 40 and set(formats) == {"textbook", "story", "blog", "howto"}
    assert formats["textbook"] > formats["story"]  # weights 3:1:1:1


@pytest.mark.slow
@pytest.mark.model
def test_embedded_model_run_from_the_example(tmp_path: Path) -> None:
    overrides = [
        MAY_BE_EMPTY,
        f"output.dir={tmp_path / 'run'}",
        "stages.0.n=1",
        "stages.1.max_tokens=120",
    ]
    root = Pipeline.from_yaml(REPO / "examples/textbook.yaml", overrides).run().root
    made, dropped = kept(root), rejects(root)
    assert len(made) + len(dropped) == 1
    for r in made:
        assert len(r.data["text"].split()) >= 30 and r.meta.recipe == "textbook"
        assert str(r.meta.model).startswith("SmolLM2") and r.meta.prompt_hash and r.meta.parents
    assert all(d["reason"] for d in dropped)
