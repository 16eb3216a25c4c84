"""Recipe logic with the deterministic fake backend: prompts, rows, provenance, rejects."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from synthmill import ConfigError, Pipeline
from synthmill.io.records_io import read_records
from synthmill.llm.fake import FakeBackend
from synthmill.pipeline.stage import StageContext
from synthmill.recipes.distill import EXPLAIN_SYSTEM_PROMPTS, Distill
from synthmill.recipes.docqa import DocQA
from synthmill.recipes.evol_instruct import EvolInstruct
from synthmill.recipes.seeds import load_seed_tasks
from synthmill.recipes.self_instruct import SelfInstruct
from synthmill.records import Record
from tests.conftest import REPO

FAKE = FakeBackend(function="tests.recipes.replies:reply", model="fake-teacher")
BROKEN = FakeBackend(function="tests.recipes.replies:broken")
PROVENANCE = ("recipe", "model", "prompt_hash", "params", "seed")


def ctx(stage: str = "s") -> StageContext:
    return StageContext(seed=1, stage=stage)


def assert_provenance(record: Record, recipe: str) -> None:
    meta = record.meta
    assert meta.recipe == recipe and meta.model == "fake-teacher" and meta.origin == "synthetic"
    assert meta.prompt_hash and meta.params["json_schema"] is True and meta.seed is not None
    assert meta.parents


def test_self_instruct_slots_rows_and_provenance() -> None:
    stage = SelfInstruct(n=5, backend=FAKE, examples=2)
    slots = list(stage.rows(ctx(stage.label)))
    assert len(slots) == stage.count() == 5
    out = stage.process(slots, ctx(stage.label))
    seed_ids = {t.id for t in load_seed_tasks()}
    assert len({r.data["instruction"] for r in out}) == 5
    for r in out:
        assert_provenance(r, "self-instruct")
        assert set(r.data) == {"instruction", "input", "output"}
        assert len(r.meta.parents) == 2 and set(r.meta.parents) <= seed_ids


def test_self_instruct_is_deterministic_per_slot_not_per_batch() -> None:
    stage = SelfInstruct(n=4, backend=FAKE)
    slots = list(stage.rows(ctx(stage.label)))
    together = stage.process(slots, ctx(stage.label))
    apart = [stage.process([s], ctx(stage.label))[0] for s in slots]
    assert [r.to_row() for r in together] == [r.to_row() for r in apart]


def test_self_instruct_two_step_asks_twice() -> None:
    stage = SelfInstruct(n=3, backend=FAKE, mode="two_step")
    c = ctx(stage.label)
    out = stage.process(list(stage.rows(c)), c)
    assert c.counters["llm.calls"] == 6
    assert all(r.data["instruction"].startswith("instruction number") for r in out)
    assert all(r.data["output"].startswith("output number") for r in out)
    for r in out:
        assert r.meta.params["instruction_prompt_hash"] != r.meta.prompt_hash


def test_bad_output_is_retried_then_rejected_with_raw_output() -> None:
    stage = SelfInstruct(n=2, backend=BROKEN, retries=1)
    c = ctx(stage.label)
    out = stage.process(list(stage.rows(c)), c)
    assert all(r.rejected for r in out)
    rejection = out[0].meta.rejection
    assert rejection is not None and rejection.reason == "invalid json"
    assert rejection.raw["output"] == "not json at all" and rejection.raw["attempts"] == 2
    assert c.counters["llm.calls"] == 4 and c.counters["structured.failed"] == 2


def test_evol_instruct_records_the_evolution() -> None:
    parent = Record.new(
        {"instruction": "Describe rain.", "input": "in Spain", "output": "x"}, key=0, stage="read"
    )
    stage = EvolInstruct(backend=FAKE, methods=["deepen"])
    (child,) = stage.process([parent], ctx(stage.label))
    assert_provenance(child, "evol-instruct")
    assert child.meta.parents == (parent.meta.id,)
    assert child.data["evolved_from"] == "Describe rain.\nin Spain"
    assert child.data["evolution"] == "deepen" and child.data["evol_round"] == 1
    assert "output" not in child.data and child.data["input"] == ""
    assert "more difficult" in FAKE_PROMPT(stage, parent)


def FAKE_PROMPT(stage: EvolInstruct, parent: Record) -> str:
    from synthmill.recipes.evol_instruct import evolution_prompt

    return evolution_prompt(stage.methods[0], stage.text(parent))


def test_distill_explain_draws_an_orca_system_prompt_per_row() -> None:
    rows = [
        Record.new({"instruction": f"Question {i}?", "input": ""}, key=i, stage="read")
        for i in range(6)
    ]
    stage = Distill(backend=FAKE, explain=True)
    out = stage.process(rows, ctx(stage.label))
    for r in out:
        assert_provenance(r, "distill")
        roles = [m["role"] for m in r.data["messages"]]
        assert roles == ["system", "user", "assistant"]
        assert r.data["system"] in EXPLAIN_SYSTEM_PROMPTS
        assert r.data["messages"][-1]["content"] == r.data["response"]
    assert len({r.data["system"] for r in out}) > 1


def test_distill_without_system_prompt() -> None:
    row = Record.new({"instruction": "Sum up.", "input": "A text."}, key=0, stage="read")
    (out,) = Distill(backend=FAKE).process([row], ctx())
    assert out.data["messages"][0] == {"role": "user", "content": "Sum up.\n\nA text."}
    assert out.data["system"] == ""


def test_docqa_one_pair_per_question_slot() -> None:
    chunk = Record.new(
        {"text": "Otters hold hands while sleeping.", "doc_id": 1}, key=0, stage="chunk"
    )
    stage = DocQA(backend=FAKE, questions=2)
    out = stage.process([chunk], ctx(stage.label))
    assert len(out) == 2 and out[0].meta.id != out[1].meta.id
    for r in out:
        assert_provenance(r, "docqa")
        assert r.data["context"] == "Otters hold hands while sleeping."
        assert r.data["answer"] == "Otters" and r.data["doc_id"] == 1 and "text" not in r.data


def test_pipeline_resume_reuses_rows(tmp_path: Path) -> None:
    """kill -9 the run after its first finished shard; the resume redoes only the rest,
    pays for no call twice, and gives the rows of a clean run."""
    slow = {"type": "fake", "function": "tests.recipes.slow_replies:slow_reply"}
    slow["model"] = "fake-teacher"

    def config(name: str) -> Path:
        cfg = {
            "name": "t",
            "seed": 3,
            "shard_size": 2,
            "backend": slow,
            "stages": [{"use": "self_instruct", "n": 10}, {"use": "filter.novelty"}],
            "output": {"dir": str(tmp_path / name)},
        }
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return path

    env = {**os.environ, "PYTHONPATH": str(REPO), "SYNTHMILL_TEST_REPLY_SLEEP": "0.15"}
    cmd = [sys.executable, "-m", "synthmill", "run"]
    clean = subprocess.run(
        [*cmd, str(config("clean")), "--no-cache"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert clean.returncode == 0, clean.stderr
    run_dir = tmp_path / "killed"
    proc = subprocess.Popen(
        [*cmd, str(config("killed"))],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seg = run_dir / "work" / "seg-00"
    deadline = time.monotonic() + 120
    while proc.poll() is None and not list(seg.glob("shard-*.done.json")):
        assert time.monotonic() < deadline, "no shard finished in 2 minutes"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it was killed"
    assert not (run_dir / "stats.json").exists()
    finished = {p: p.stat().st_mtime_ns for p in seg.glob("shard-*.done.json")}
    assert 1 <= len(finished) < 5
    again = subprocess.run(
        [*cmd, str(config("killed"))],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # not redone

    def published(root: Path) -> list[dict[str, object]]:
        files = sorted((root / "data").glob("*.parquet"))
        return [r.to_row() for p in files for r in read_records(p)]

    rows = published(run_dir)
    assert rows == published(tmp_path / "clean") and rows
    stats = json.loads((run_dir / "stats.json").read_text())["stages"]
    counters = stats["self_instruct"]["counters"]
    assert counters["llm.calls"] == 10 and counters.get("llm.cache_hits", 0) == 0
    # The fake replies differ only in their hash: ROUGE-L 5/6, so novelty keeps the first.
    novelty = stats["filter.novelty"]
    assert novelty["rejected"] == {"too similar to an earlier task": 10 - len(rows)}


def test_own_seed_tasks_and_bad_paths(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text('{"id": "mine-1", "instruction": "Name a colour."}\n')
    stage = SelfInstruct(n=2, backend=FAKE, seed_tasks=str(seeds), topics=None)
    c = ctx(stage.label)
    out = stage.process(list(stage.rows(c)), c)
    assert all(r.meta.parents == ("mine-1",) for r in out)
    config = {
        "stages": [{"use": "self_instruct", "n": 1, "seed_tasks": str(tmp_path / "none.jsonl")}],
        "output": {"dir": str(tmp_path / "run")},
    }
    with pytest.raises(ConfigError, match=r"stages\.0: .*none\.jsonl: file not found"):
        Pipeline.from_config(config)


def test_a_repeated_run_pays_for_no_call_twice(tmp_path: Path) -> None:
    def config(name: str) -> dict[str, object]:
        stages = [{"use": "self_instruct", "n": 4, "mode": "two_step"}]
        out = {"dir": str(tmp_path / name)}
        return {
            "name": "t",
            "seed": 5,
            "backend": FAKE.to_config(),
            "stages": stages,
            "output": out,
        }

    first = Pipeline.from_config(config("a")).run().stats["stages"]["self_instruct"]["counters"]
    second = Pipeline.from_config(config("b")).run().stats["stages"]["self_instruct"]["counters"]
    assert first["llm.calls"] == 8 and first.get("llm.cache_hits", 0) == 0
    assert second["llm.cache_hits"] == 8 and second.get("llm.calls", 0) == 0
