"""Every recipe through the real embedded model (SmolLM2-135M): structure and provenance.

The wording of a 135M model is not asserted; what is: each row is either kept with full
provenance or in rejects with a reason, and the rows have the columns the recipe promises.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from synthmill import Pipeline
from synthmill.io.records_io import read_records
from synthmill.recipes.seeds import load_seed_tasks
from synthmill.records import Record
from tests.conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.model]
BACKEND = {"type": "llamacpp", "n_threads": 1}
MODEL = "SmolLM2-135M-Instruct.Q4_1"


def kept(root: Path) -> list[Record]:
    return [r for p in sorted((root / "data").glob("*.parquet")) for r in read_records(p)]


def rejects(root: Path) -> list[dict[str, Any]]:
    files = sorted((root / "rejects").rglob("*.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def assert_made_by_model(record: Record, recipe: str) -> None:
    meta = record.meta
    assert (meta.recipe, meta.model, meta.origin) == (recipe, MODEL, "synthetic")
    assert meta.prompt_hash and meta.seed is not None and meta.parents
    assert meta.params["json_schema"] is True and meta.params["max_tokens"] > 0


def run(tmp_path: Path, stages: list[dict[str, Any]], name: str = "t", seed: int = 2) -> Path:
    config = {"name": name, "seed": seed, "backend": BACKEND, "stages": stages}
    config["allow_empty"] = True  # the 135M model may lose every row; tests say what they need
    config["output"] = {"dir": str(tmp_path / name)}
    return Pipeline.from_config(config).run().root


def test_quickstart_example_end_to_end(tmp_path: Path) -> None:
    overrides = ["stages.0.n=3", f"output.dir={tmp_path / 'qs'}", f"backend={BACKEND}"]
    result = Pipeline.from_yaml(REPO / "examples/self_instruct_quickstart.yaml", overrides).run()
    rows, dropped = kept(result.root), rejects(result.root)
    assert len(rows) + len(dropped) == 3  # every slot is kept or rejected with a reason
    assert rows  # seeded sampling: the same rows on every run
    assert all(d["reason"] and d["stage"] for d in dropped)
    seed_ids = {t.id for t in load_seed_tasks()}
    for r in rows:
        assert_made_by_model(r, "self-instruct")
        assert set(r.meta.parents) <= seed_ids
        assert r.data["instruction"] and "filter.novelty" in r.meta.verdicts
    card = (result.root / "README.md").read_text()
    assert "self_instruct" in card and MODEL in card


def test_self_instruct_two_step(tmp_path: Path) -> None:
    root = run(tmp_path, [{"use": "self_instruct", "n": 2, "mode": "two_step"}])
    rows, dropped = kept(root), rejects(root)
    assert len(rows) + len(dropped) == 2 and rows
    for r in rows:
        assert_made_by_model(r, "self-instruct")
        assert set(r.data) == {"instruction", "input", "output"} and r.data["instruction"]


def test_evol_instruct_then_distill_then_elimination(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"instruction": "Explain why the sea is salty."}\n')
    stages = [
        {"use": "read", "path": str(src)},
        {"use": "evol_instruct", "methods": ["add_constraints", "breadth"]},
        {"use": "distill", "explain": True, "max_tokens": 60, "max_chars": 200},
        {"use": "filter.evolution"},
    ]
    root = run(tmp_path, stages)
    rows, dropped = kept(root), rejects(root)
    assert len(rows) + len(dropped) == 1
    for r in rows:
        assert_made_by_model(r, "distill")
        assert r.data["evolved_from"] == "Explain why the sea is salty."
        assert r.data["evolution"] in ("add_constraints", "breadth")
        assert [m["role"] for m in r.data["messages"]] == ["system", "user", "assistant"]
        assert r.data["messages"][1]["content"] == r.data["instruction"]
    for d in dropped:
        assert d["stage"] in ("evol_instruct", "distill", "filter.evolution") and d["reason"]


def test_docqa_grounded_pairs(tmp_path: Path) -> None:
    """Four chunks of one short, plain sentence each ("Cows eat green grass."): the 135M
    model mostly answers by repeating its sentence, which filter.grounded keeps. On the
    default engine (llama-server) seeds 1-8 kept 0, 2, 2, 2, 1, 0, 1, 1 of the 4 pairs here
    (in-process: 4, 0, 2, 0, 2, 1, 2, 1); seed 2 is used, so pairs are kept and their per-row
    checks run (a longer passage gets drifting answers)."""
    src = tmp_path / "docs.jsonl"
    doc = (
        "Bees make honey from nectar. Cows eat green grass. Rain falls from grey clouds. "
        "The sun is a star."
    )
    src.write_text(json.dumps({"text": doc}) + "\n")
    stages = [
        {"use": "read", "path": str(src)},
        {"use": "chunk", "max_words": 6, "min_words": 3},
        {"use": "docqa", "max_tokens": 80, "max_chars": 120},
        {"use": "filter.grounded", "min_coverage": 0.5},
    ]
    root = run(tmp_path, stages, seed=2)
    rows, dropped = kept(root), rejects(root)
    assert len(rows) + len(dropped) == 4  # four chunks, one question each
    assert rows, "the model kept no grounded pair: the inputs no longer suit it"
    for r in rows:
        assert_made_by_model(r, "docqa")
        assert r.data["context"] in doc and r.data["question"] and r.data["answer"]
        assert r.meta.scores["filter.grounded"] >= 0.5
    for d in dropped:
        assert d["stage"] in ("chunk", "docqa", "filter.grounded") and d["reason"]


def test_grounded_judge_gives_a_verdict_per_pair(tmp_path: Path) -> None:
    """judge.grounded through the embedded model on a supported and an unsupported pair.
    The 135M judge is unreliable (README), so its yes/no is not asserted; each pair must
    reach it, be asked about, and end kept with its verdict or rejected with why."""
    src = tmp_path / "pairs.jsonl"
    pairs = [
        {"context": "The Eiffel Tower is in Paris.", "question": "Where is the Eiffel Tower?",
         "answer": "Paris"},
        {"context": "The Nile is a river in Africa.", "question": "Where is the Nile?",
         "answer": "In Australia, next to the Opera House."},
    ]  # fmt: skip
    src.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    result_root = run(tmp_path, [{"use": "read", "path": str(src)}, {"use": "judge.grounded"}])
    stats = json.loads((result_root / "stats.json").read_text())["stages"]["judge.grounded"]
    assert stats["rows_in"] == 2 and stats["counters"]["llm.calls"] >= 2
    rows, dropped = kept(result_root), rejects(result_root)
    assert len(rows) + len(dropped) == 2
    for r in rows:
        assert r.meta.verdicts["judge.grounded"]["ok"] is True
        assert r.meta.scores["judge.grounded"] == 1.0
    for d in dropped:
        assert d["stage"] == "judge.grounded" and d["reason"].startswith("judge:")
        if d["reason"] == "judge: answer not supported":
            assert d["raw"]["judge_reason"] and d["raw"]["model"] == MODEL
