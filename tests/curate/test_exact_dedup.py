"""`dedup.exact` keeps 8-byte hashes, spills them to disk past its memory budget, and the
spilled path gives the same rows, the same kept rows and the same names as memory."""

from __future__ import annotations

import json
import random
import subprocess
import sys

from synthmill.curate.exact_dedup import ExactDedup
from synthmill.pipeline.stage import StageContext
from synthmill.records import Record


def rows(texts: list[str], with_ids: bool = False) -> list[Record]:
    return [
        Record.new({"text": t} | ({"id": f"u{i}"} if with_ids else {}), key=i, stage="read")
        for i, t in enumerate(texts)
    ]


def outcome(stage: ExactDedup, data: list[Record]) -> tuple[list, StageContext]:
    ctx = StageContext(seed=0, stage="dedup.exact")
    out = list(stage.process_all(data, ctx))
    assert [r.meta.id for r in out] == [r.meta.id for r in data]
    return [r.meta.rejection.raw if r.rejected else None for r in out], ctx


def test_spilled_hashes_give_the_same_result_as_memory(tmp_path) -> None:
    rng = random.Random(3)
    texts = [f"{rng.choice(['A', 'b', 'C'])} {rng.randint(0, 400)}" for _ in range(6000)]
    data = rows(texts, with_ids=True)
    memory, ctx_m = outcome(ExactDedup(), data)
    spilled, ctx_s = outcome(ExactDedup(memory_mb=0.001, workdir=str(tmp_path)), data)
    assert spilled == memory
    assert ctx_s.counters["spilled_partitions"] == 64 and "spilled_partitions" not in ctx_m.counters
    assert list(tmp_path.iterdir()) == []  # partitions removed afterwards
    first: dict[str, int] = {}
    for i, t in enumerate(texts):
        first.setdefault(t.lower(), i)
    for i, (t, raw) in enumerate(zip(texts, memory, strict=True)):
        if first[t.lower()] == i:
            assert raw is None
        else:  # every later copy names the first row (by its id column), not the previous copy
            assert raw["duplicate_of"] == f"u{first[t.lower()]}"
            assert raw["kept_id"] == data[first[t.lower()]].meta.id
    assert sum(raw is None for raw in memory) == len(first)


def test_duplicate_of_falls_back_to_the_record_id() -> None:
    data = rows(["same", "SAME", "other"])
    raws, _ = outcome(ExactDedup(), data)
    assert raws[1] == {"duplicate_of": data[0].meta.id, "kept_id": data[0].meta.id, "kept_index": 0}
    raws, _ = outcome(ExactDedup(id_column=None), rows(["a", "a"], with_ids=True))
    assert raws[1]["duplicate_of"] == raws[1]["kept_id"]


def test_cli_spills_and_names_the_id_column(tmp_path) -> None:
    src = tmp_path / "in.jsonl"
    texts = ["Alpha beta", "gamma", "alpha  BETA", "gamma", "alpha beta"]
    src.write_text(
        "".join(json.dumps({"doc": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts))
    )
    out = tmp_path / "out.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "synthmill",
        "dedup",
        str(src),
        "-o",
        str(out),
        "--method",
        "exact",
    ]
    run = subprocess.run(
        [*cmd, "--memory-mb", "0.00001", "--id-column", "doc"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    rejects = [
        json.loads(line) for line in (tmp_path / "out.rejects.jsonl").read_text().splitlines()
    ]
    assert [(r["row"]["doc"], r["raw"]["duplicate_of"]) for r in rejects] == [
        ("d2", "d0"),
        ("d3", "d1"),
        ("d4", "d0"),
    ]
    stats = json.loads((tmp_path / "out.stats.json").read_text())["stages"]["dedup.exact"]
    assert stats["counters"]["spilled_partitions"] == 64  # the spill path was taken
