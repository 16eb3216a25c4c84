"""`magpie` (Xu et al. 2024): instructions from a bare user-turn opening sent as a raw
completion, then a chat call answers them. Logic with the fake backend; the embedded model
and a real llama_cpp.server are in test_magpie_model.py and test_literature_server.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from synthmill import Pipeline
from synthmill.errors import ConfigError
from synthmill.export import export
from synthmill.llm.base import Completion, Request
from synthmill.llm.fake import FakeBackend
from synthmill.pipeline.stage import StageContext
from synthmill.recipes.magpie import Magpie, user_turn_opening
from tests.conftest import REPO
from tests.recipes.test_embedded import kept, rejects

HERE = "tests.recipes.test_magpie"
SCRIPT: list[str] = []  # the instructions the fake model writes, in slot order
SENT: list[Request] = []


def model(request: Request) -> str:
    """Raw calls: the next scripted instruction. Chat calls: an answer naming the question."""
    SENT.append(request)
    if request.prompt is not None:
        return SCRIPT.pop(0)
    return f"Here is my answer to: {request.messages[-1]['content']}"


class Cut(FakeBackend):
    """A fake whose replies ending in '...' ran out of tokens (finish_reason length)."""

    def _one(self, request: Request, reply: Any) -> Completion:
        done = super()._one(request, reply)
        cut = done.text.endswith("...")
        return Completion(done.text, done.model, finish_reason="length" if cut else "stop")


def stage(**options: Any) -> Magpie:
    backend = Cut(function=f"{HERE}:model", model="fake-m")
    return Magpie.model_validate({"backend": backend, "template": "chatml", **options})


def ctx() -> StageContext:
    return StageContext(seed=5, stage="magpie")


def run_slots(magpie: Magpie, script: list[str]) -> list[Any]:
    SCRIPT[:] = script
    SENT.clear()
    slots = list(magpie.rows(ctx()))
    return magpie.process(slots, ctx())


def test_openings_of_the_named_templates_and_a_model_template() -> None:
    assert user_turn_opening("chatml") == ("<|im_start|>user\n", "<|im_end|>")
    assert user_turn_opening("llama3") == (
        "<|start_header_id|>user<|end_header_id|>\n\n",
        "<|eot_id|>",
    )
    prefix, _ = user_turn_opening("chatml", system="Talk about bread.")
    assert prefix == "<|im_start|>system\nTalk about bread.<|im_end|>\n<|im_start|>user\n"
    # A template with its own default system turn (SmolLM2's has one) keeps it.
    own = (
        "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
        "{{ '<|im_start|>system\nBe kind.<|im_end|>\n' }}{% endif %}{{ '<|im_start|>' + "
        "message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}"
    )
    assert user_turn_opening(own) == (
        "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\n",
        "<|im_end|>",
    )
    with pytest.raises(ConfigError, match="does not show a user message"):
        user_turn_opening("no messages here")


def test_raw_prefix_then_a_chat_answer_with_provenance() -> None:
    out = run_slots(stage(n=2), ["How do tides work?", "Name three uses of salt."])
    raw = [q for q in SENT if q.prompt is not None]
    assert [q.prompt for q in raw] == ["<|im_start|>user\n"] * 2
    assert all(q.messages == () and q.stop == ("<|im_end|>",) for q in raw)
    assert raw[0].seed != raw[1].seed and raw[0].temperature == 1.0
    chats = [q for q in SENT if q.prompt is None]
    assert [q.messages[-1]["content"] for q in chats] == [
        "How do tides work?",
        "Name three uses of salt.",
    ]
    for r, question in zip(out, ["How do tides work?", "Name three uses of salt."], strict=True):
        assert not r.rejected and r.data["instruction"] == question
        assert r.data["response"] == f"Here is my answer to: {question}"
        assert [m["role"] for m in r.data["messages"]] == ["user", "assistant"]
        meta = r.meta
        assert (meta.recipe, meta.model, meta.origin) == ("magpie", "fake-m", "synthetic")
        assert meta.params["calls"] == 2 and meta.params["instruction"]["raw"] is True
        assert meta.prompt_hash and meta.seed is not None


def test_bad_instructions_are_rejected_with_their_reason() -> None:
    script = [
        "  ",
        "Hi there",
        "Explain how a rainbow forms in the sky.",
        "explain how a RAINBOW forms in the sky!",
        "Write a long story about a dragon who...",
        "What is the capital city of France?",
    ]
    out = run_slots(stage(n=6, min_words=3), script)
    reasons = [r.meta.rejection.reason if r.rejected else None for r in out]
    assert reasons == [
        "empty instruction",
        "instruction too short",
        None,
        "duplicate instruction",
        "unfinished instruction",
        None,
    ]
    assert len([q for q in SENT if q.prompt is None]) == 2  # only kept ones are answered
    assert out[3].meta.rejection.raw["output"] == script[3]


def test_responses_off_system_turn_and_prefix_override_change_the_hash() -> None:
    plain = run_slots(stage(n=1, responses=False), ["Why is the sea salty?"])[0]
    assert plain.data["response"] == "" and plain.data["messages"] == []
    steered = run_slots(stage(n=1, system="Only ask about cooking."), ["How long to boil rice?"])
    assert SENT[0].prompt is not None and "Only ask about cooking." in SENT[0].prompt
    assert steered[0].data["messages"][0] == {
        "role": "system",
        "content": "Only ask about cooking.",
    }
    literal = run_slots(stage(n=1, prefix="USER: ", stop=["\n"]), ["How long to boil rice?"])
    assert SENT[0].prompt == "USER: " and SENT[0].stop == ("\n",)
    assert literal[0].meta.prompt_hash != steered[0].meta.prompt_hash


def test_config_errors() -> None:
    with pytest.raises(ValueError, match="literal prefix needs stop"):
        stage(n=1, prefix="USER: ")
    with pytest.raises(ValueError, match="cannot do"):
        Magpie.model_validate({"n": 1, "backend": {"type": "fake", "raw": False}})
    with pytest.raises(ValueError, match=r"chat template fails|does not show"):
        stage(n=1, template="{% for m in messages %}{{ m.nope() }}{% endfor %}")


def _cli(tmp: Path, config: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump({**config, "output": {"dir": str(tmp / "run")}}))
    command = [sys.executable, "-m", "synthmill", "run", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=os.environ)


@pytest.mark.parametrize(
    ("backend", "message"),
    [
        ({"type": "fake", "raw": False}, "magpie needs raw text completions"),
        (  # nothing listens there: the template check fails before any call
            {"type": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1"},
            "cannot tell its model's chat template; set template: chatml",
        ),
    ],
)
def test_unusable_backend_is_exit_2_in_one_line_before_a_run_dir(
    tmp_path: Path, backend: dict[str, Any], message: str
) -> None:
    done = _cli(tmp_path, {"backend": backend, "stages": [{"use": "magpie", "n": 2}]})
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "run").exists()


def test_example_runs_with_the_fake_backend_and_caches_both_calls(tmp_path: Path) -> None:
    backend = f"backend={{type: fake, function: '{HERE}:model', model: fake-m}}"
    questions = [f"Question number {w} about the weather today?" for w in "abcdefgh"]
    overrides = [backend, f"output.dir={tmp_path / 'run'}", "stages.0.n=8"]
    overrides += ["stages.0.template=chatml"]
    SCRIPT[:] = list(questions)
    result = Pipeline.from_yaml(REPO / "examples/magpie.yaml", overrides).run()
    made = kept(result.root)
    assert sorted(r.data["instruction"] for r in made) == questions and not rejects(result.root)
    assert result.stats["stages"]["magpie"]["counters"]["llm.calls"] == 16  # 8 raw, 8 chat
    SCRIPT[:] = []  # a second run asks nothing: both calls of each row come from the cache
    overrides[1] = f"output.dir={tmp_path / 'again'}"
    again = Pipeline.from_yaml(REPO / "examples/magpie.yaml", overrides).run()
    counters = again.stats["stages"]["magpie"]["counters"]
    assert counters["llm.cache_hits"] == 16 and counters.get("llm.calls", 0) == 0
    assert sorted(r.data["response"] for r in kept(again.root)) == sorted(
        r.data["response"] for r in made
    )
    out = tmp_path / "m.jsonl"  # the chat exports as `messages` and loads with datasets
    assert export(result.root, out, "messages").rows == 8
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("json", data_files=str(out), split="train")
    assert ds.num_rows == 8 and [m["role"] for m in ds[0]["messages"]] == ["user", "assistant"]
