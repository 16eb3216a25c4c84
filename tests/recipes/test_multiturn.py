"""`multiturn` (UltraChat, Ding et al. 2023): user-simulator and assistant alternate; early
stops on empty or repeated turns; `messages` exports and loads with datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from synthmill import Pipeline
from synthmill.export import export
from synthmill.export.messages import conversation
from synthmill.llm.base import Request
from synthmill.pipeline.stage import StageContext
from synthmill.recipes.multiturn import Multiturn
from synthmill.records import Record
from tests.conftest import REPO
from tests.helpers import MAY_BE_EMPTY
from tests.recipes.test_embedded import kept, rejects

HERE = "tests.recipes.test_multiturn"
SENT: list[Request] = []


def is_user_sim(request: Request) -> bool:
    return request.messages[-1]["content"].startswith("Here is a conversation")


def chat(request: Request) -> str:
    """The assistant numbers its turns; the simulated user asks for more about the last one."""
    SENT.append(request)
    n = sum(m["role"] == "assistant" for m in request.messages)
    if is_user_sim(request):
        said = request.messages[-1]["content"].count("Assistant: ")
        return json.dumps({"message": f"Tell me more about point {said}."})
    return json.dumps({"message": f"Answer {n + 1} to: {request.messages[-1]['content']}"})


def stubborn(request: Request) -> str:
    """The assistant says the same thing every time."""
    if is_user_sim(request):
        return chat(request)
    return json.dumps({"message": "I cannot say more."})


def user_goes_quiet(request: Request) -> str:
    return json.dumps({"message": "  "}) if is_user_sim(request) else chat(request)


def mute(request: Request) -> str:
    return json.dumps({"message": ""})


def stage(function: str = "chat", **options: Any) -> Multiturn:
    backend = {"type": "fake", "function": f"{HERE}:{function}", "model": "fake-m"}
    return Multiturn.model_validate({"backend": backend, **options})


def openings(*texts: str) -> list[Record]:
    return [Record.new({"instruction": t}, key=i, stage="r") for i, t in enumerate(texts)]


def ctx() -> StageContext:
    return StageContext(seed=6, stage="multiturn")


def test_turns_alternate_and_the_conversation_is_valid_chat() -> None:
    SENT.clear()
    r = stage(turns=3, system="Be kind.").process(openings("Why is the sky blue?"), ctx())[0]
    msgs = r.data["messages"]
    assert [m["role"] for m in msgs] == ["system", *["user", "assistant"] * 3]
    assert conversation(msgs) == msgs  # the exporter's own validation
    assert msgs[1]["content"] == "Why is the sky blue?"
    assert msgs[3]["content"] == "Tell me more about point 1."
    assert msgs[6]["content"] == "Answer 3 to: Tell me more about point 2."
    assert r.data["turns"] == 3 and r.data["stop_reason"] == ""
    assert len(SENT) == 5 and r.meta.params["calls"] == 5 and r.meta.parents
    assert SENT[0].messages[0] == {"role": "system", "content": "Be kind."}
    assert "User: Why is the sky blue?\nAssistant: Answer 1" in SENT[1].messages[-1]["content"]
    assert len({q.seed for q in SENT}) == 5


def test_a_repeated_or_empty_turn_stops_early_and_says_why() -> None:
    r = stage("stubborn", turns=4).process(openings("Hi?"), ctx())[0]
    assert r.data["stop_reason"] == "repeated assistant turn" and r.data["turns"] == 1
    assert r.data["messages"][-1]["role"] == "assistant"  # the dangling user turn is dropped
    quiet = stage("user_goes_quiet", turns=3).process(openings("Hi?"), ctx())[0]
    assert quiet.data["stop_reason"] == "empty user turn" and quiet.data["turns"] == 1
    assert not quiet.rejected and conversation(quiet.data["messages"])


def test_no_assistant_turn_or_empty_opening_is_rejected() -> None:
    out = stage("mute").process(openings("Hi?"), ctx())[0]
    assert out.meta.rejection is not None and out.meta.rejection.reason == "empty assistant turn"
    SENT.clear()
    empty = stage().process(openings("   "), ctx())[0]
    assert empty.meta.rejection is not None and empty.meta.rejection.reason == "empty opening"
    assert not SENT


def test_conversations_in_one_batch_are_independent_and_overrides_apply() -> None:
    s = stage(turns=2)
    both = s.process(openings("A?", "B?"), ctx())
    alone = [s.process([r], ctx())[0] for r in openings("A?", "B?")]
    assert [r.data for r in both] == [r.data for r in alone]
    custom = stage(turns=2, prompts={"user": "Here is a conversation: {{ conversation }}. Next?"})
    assert custom.process(openings("A?"), ctx())[0].meta.prompt_hash != both[0].meta.prompt_hash
    with pytest.raises(ValueError):
        stage(turns=0)
    with pytest.raises(ValueError, match="no prompt named 'assistant'"):
        stage(prompts={"assistant": "x"})


def test_run_exports_as_messages_and_loads_with_datasets(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"instruction": f"Q{i}?"}) + "\n" for i in range(3)))
    config = {
        "backend": {"type": "fake", "function": f"{HERE}:chat"},
        "stages": [{"use": "read", "path": str(src)}, {"use": "multiturn", "turns": 2}],
        "output": {"dir": str(tmp_path / "run")},
    }
    root = Pipeline.from_config(config).run().root
    out = tmp_path / "m.jsonl"
    assert export(root, out, "messages").rows == 3
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("json", data_files=str(out), split="train")
    assert ds.num_rows == 3 and [m["role"] for m in ds[0]["messages"]] == ["user", "assistant"] * 2


@pytest.mark.slow
@pytest.mark.model
def test_embedded_model_run_from_the_example(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"instruction": "What do cats eat?"}))
    overrides = [
        MAY_BE_EMPTY,
        f"stages.0.path={src}",
        f"output.dir={tmp_path / 'run'}",
        "stages.1.turns=2",
        "stages.1.max_tokens=50",
    ]
    root = Pipeline.from_yaml(REPO / "examples/multiturn.yaml", overrides).run().root
    made, dropped = kept(root), rejects(root)
    assert len(made) + len(dropped) == 1
    for r in made:
        assert conversation(r.data["messages"]) and 1 <= r.data["turns"] <= 2
        assert r.meta.recipe == "multiturn" and str(r.meta.model).startswith("SmolLM2")
        assert r.meta.params["calls"] >= 1 and r.meta.prompt_hash and r.meta.parents
    assert all(d["reason"] for d in dropped)
