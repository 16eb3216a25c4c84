"""Chained `evol_instruct` stages count their rounds (issue 19: `evol_round` was never > 1)."""

from __future__ import annotations

from pathlib import Path

from synthmill import Pipeline
from synthmill.io.records_io import read_records
from synthmill.llm.fake import FakeBackend
from synthmill.pipeline.stage import StageContext
from synthmill.recipes.evol_instruct import EvolInstruct
from synthmill.records import Record

FAKE = FakeBackend(function="tests.recipes.replies:reply", model="fake-teacher")


def test_three_rounds_count_three_and_chain_their_parents() -> None:
    rows = [Record.new({"instruction": "Describe rain."}, key=0, stage="read")]
    history = [rows[0]]
    for round_ in (1, 2, 3):
        stage = EvolInstruct(backend=FAKE, methods=["deepen"], name=f"evolve-{round_}")
        (child,) = stage.process(rows, StageContext(seed=1, stage=stage.label))
        parent = rows[0]
        assert child.data["evol_round"] == round_
        assert child.meta.parents == (parent.meta.id,)
        assert child.data["evolved_from"] == parent.data["instruction"]
        assert child.data["instruction"] != parent.data["instruction"]
        rows = [child]
        history.append(child)
    assert len({r.meta.id for r in history}) == 4


def test_the_evol_instruct_example_shape_in_a_pipeline(tmp_path: Path) -> None:
    """Two evol_instruct stages in one run (as examples/evol_instruct.yaml): round 2."""
    src = tmp_path / "in.jsonl"
    src.write_text('{"instruction": "Name a river."}\n{"instruction": "Explain tides."}\n')
    config = {
        "name": "evol",
        "seed": 5,
        "backend": {"type": "fake", "function": "tests.recipes.replies:reply"},
        "stages": [
            {"use": "read", "path": str(src)},
            {"use": "evol_instruct", "name": "evolve-1"},
            {"use": "evol_instruct", "name": "evolve-2"},
        ],
        "output": {"dir": str(tmp_path / "out")},
    }
    root = Pipeline.from_config(config).run().root
    rows = [r for f in sorted((root / "data").glob("*.parquet")) for r in read_records(f)]
    assert len(rows) == 2
    for r in rows:
        assert r.data["evol_round"] == 2 and r.meta.stage == "evolve-2"
        assert r.data["evolved_from"].startswith("prompt number")  # round 1's reply
