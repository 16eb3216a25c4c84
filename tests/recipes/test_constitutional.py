"""`constitutional` (Bai et al. 2022): critique then revision, with the fake backend and the
embedded model; the preference pair it yields exports as DPO."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from synthmill import Pipeline
from synthmill.export import export
from synthmill.llm.base import Request
from synthmill.pipeline.columns import ColumnError
from synthmill.pipeline.stage import StageContext
from synthmill.recipes.constitutional import PRINCIPLES, REASON_UNCHANGED, Constitutional
from synthmill.records import Record, stable_hash
from tests.conftest import REPO
from tests.helpers import MAY_BE_EMPTY
from tests.recipes.test_embedded import kept, rejects

HERE = "tests.recipes.test_constitutional"
SENT: list[Request] = []


def reply(request: Request) -> str:
    """A critique naming the prompt's hash; a revision that prefixes the original."""
    SENT.append(request)
    field = next(iter((request.json_schema or {}).get("properties", {"x": 0})))
    text = request.messages[-1]["content"]
    tag = stable_hash(text, length=6)
    if field == "critique":
        return json.dumps({"critique": f"too vague {tag}"})
    original = re.search(r"Reply: (.*?)\n\n", text, re.DOTALL)
    return json.dumps({"revision": f"Better: {original.group(1) if original else '?'}"})


def same(request: Request) -> str:
    """A revision that repeats the original word for word."""
    text = request.messages[-1]["content"]
    if "Critique:" not in text:
        return json.dumps({"critique": "fine"})
    original = re.search(r"Reply: (.*?)\n\n", text, re.DOTALL)
    return json.dumps({"revision": original.group(1) if original else ""})


def broken(request: Request) -> str:
    SENT.append(request)
    return "no json here"


def stage(function: str = "reply", **options: Any) -> Constitutional:
    backend = {"type": "fake", "function": f"{HERE}:{function}", "model": "fake-m"}
    return Constitutional.model_validate({"backend": backend, **options})


def rows(n: int = 3) -> list[Record]:
    data = [{"instruction": f"How do I fix {i}?", "response": f"Just fix {i}."} for i in range(n)]
    return [Record.new(d, key=i, stage="read") for i, d in enumerate(data)]


def ctx() -> StageContext:
    return StageContext(seed=5, stage="constitutional")


def test_rows_keep_original_critique_revision_and_a_preference_pair() -> None:
    parents = rows()
    out = stage(principles=["Be kind.", "Be brief."]).process(parents, ctx())
    assert len(out) == 3 and not any(r.rejected for r in out)
    for parent, r in zip(parents, out, strict=True):
        d = r.data
        assert d["original"] == d["rejected"] == parent.data["response"]
        assert d["revision"] == d["chosen"] == f"Better: {parent.data['response']}"
        assert d["critique"].startswith("too vague ") and d["principle"] in (
            "Be kind.",
            "Be brief.",
        )
        assert d["instruction"] == parent.data["instruction"]
        m = r.meta
        assert (m.recipe, m.model, m.parents) == ("constitutional", "fake-m", (parent.meta.id,))
        assert m.params["calls"] == 2 and m.prompt_hash and m.seed is not None


def test_the_revision_prompt_carries_the_critique_and_the_principle() -> None:
    SENT.clear()
    out = stage().process(rows(1), ctx())
    critique_turn, revision_turn = (r.messages[-1]["content"] for r in SENT)
    assert out[0].data["principle"] in PRINCIPLES and out[0].data["principle"] in critique_turn
    assert f"Critique: {out[0].data['critique']}" in revision_turn
    assert SENT[0].seed != SENT[1].seed  # each step samples with its own seed


def test_principle_is_drawn_per_row_independent_of_batching() -> None:
    s = stage()
    whole = [r.data["principle"] for r in s.process(rows(6), ctx())]
    alone = [s.process([r], ctx())[0].data["principle"] for r in rows(6)]
    assert whole == alone and len(set(whole)) > 1


def test_a_prompt_override_is_used_and_changes_the_prompt_hash() -> None:
    base = stage().process(rows(1), ctx())[0]
    SENT.clear()
    custom = stage(prompts={"critique": "Judge {{ response }} by {{ principle }}."})
    r = custom.process(rows(1), ctx())[0]
    assert SENT[0].messages[-1]["content"].startswith("Judge Just fix 0. by ")
    assert r.meta.prompt_hash != base.meta.prompt_hash
    assert custom.to_config()["prompts"] == {"critique": custom.prompts["critique"]}


def test_unknown_prompt_names_and_broken_templates_fail_at_config_time() -> None:
    help_text = Constitutional.model_fields["prompts"].description or ""
    assert "(critique, revision)" in help_text  # what `synthmill stages` shows
    with pytest.raises(ValueError, match=r"no prompt named 'critque'.*did you mean 'critique'"):
        stage(prompts={"critque": "x"})
    with pytest.raises(ValueError, match="template syntax error"):
        stage(prompts={"revision": "{{ critique "})
    with pytest.raises(ValueError):
        stage(principles=[])


def test_an_override_naming_a_column_is_a_declared_read(tmp_path: Path) -> None:
    s = stage(prompts={"critique": "{{ topic }}: {{ response }} vs {{ principle }}"})
    assert s.reads() == ["instruction", "response", "topic"]
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"instruction": "a", "response": "b", "topc": "c"}) + "\n")
    config = {
        "stages": [{"use": "read", "path": str(src)}, s],
        "output": {"dir": str(tmp_path / "o")},
    }
    with pytest.raises(ColumnError, match="'topic'"):
        Pipeline.from_config({"backend": {"type": "fake"}, **config}).run()
    assert not (tmp_path / "o").exists()


def test_unchanged_revision_and_failed_critique_are_rejected_with_reasons() -> None:
    unchanged = stage("same").process(rows(1), ctx())[0]
    assert unchanged.meta.rejection is not None
    assert unchanged.meta.rejection.reason == REASON_UNCHANGED
    SENT.clear()
    failed = stage("broken", retries=0).process(rows(2), ctx())
    assert all(r.meta.rejection and r.meta.rejection.reason == "invalid json" for r in failed)
    assert len(SENT) == 2  # no revision was asked for when the critique failed
    assert all(r.data["revision"] == "" and r.meta.params["calls"] == 1 for r in failed)


def test_run_exports_as_dpo_with_revision_chosen(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r.data) + "\n" for r in rows(3)))
    backend = {"type": "fake", "function": f"{HERE}:reply"}
    config = {
        "backend": backend,
        "stages": [{"use": "read", "path": str(src)}, {"use": "constitutional"}],
        "output": {"dir": str(tmp_path / "run")},
    }
    root = Pipeline.from_config(config).run().root
    out = tmp_path / "dpo.jsonl"
    assert export(root, out, "dpo").rows == 3
    first = json.loads(out.read_text().splitlines()[0])
    assert first["prompt"][-1]["content"].startswith("How do I fix")
    assert first["chosen"][0]["content"].startswith("Better: ")
    assert first["rejected"][0]["content"] == first["chosen"][0]["content"][len("Better: ") :]


@pytest.mark.slow
@pytest.mark.model
def test_embedded_model_run_from_the_example(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"instruction": "How do I boil an egg?", "response": "Heat it."}))
    overrides = [
        MAY_BE_EMPTY,
        f"stages.0.path={src}",
        f"output.dir={tmp_path / 'run'}",
        "stages.1.max_tokens=60",
    ]
    pipe = Pipeline.from_yaml(REPO / "examples/constitutional.yaml", overrides)
    root = pipe.run().root
    made, dropped = kept(root), rejects(root)
    assert len(made) + len(dropped) == 1
    for r in made:
        assert r.data["original"] == r.data["rejected"] == "Heat it."
        assert r.data["revision"] == r.data["chosen"] and r.data["critique"]
        assert r.meta.recipe == "constitutional" and r.meta.params["calls"] == 2
        assert str(r.meta.model).startswith("SmolLM2") and r.meta.prompt_hash and r.meta.parents
    assert all(d["reason"] for d in dropped)
