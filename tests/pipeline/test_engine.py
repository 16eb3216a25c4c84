"""The engine through its Python API: determinism, rejects, stats, provenance, round trips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from synthmill import Output, Pipeline, Record
from synthmill.curate.exact_dedup import ExactDedup
from synthmill.curate.length import LengthFilter
from synthmill.errors import RunFailedError
from synthmill.pipeline.function import FunctionStage
from synthmill.pipeline.runner import plan
from synthmill.sources.range import Range
from synthmill.sources.read import Read
from tests.pipeline import steps


def build(out: Path, **knobs: object) -> Pipeline:
    return Pipeline(
        name="engine",
        seed=5,
        shard_size=7,
        stages=[
            Range(n=60),
            FunctionStage(function=steps.make_text, **knobs),
            LengthFilter(min_words=2),
            ExactDedup(),
            FunctionStage(function=steps.tag),
        ],
        output=Output(dir=out),
    )


def data_rows(run_dir: Path) -> list[dict[str, Any]]:
    return [
        r
        for f in sorted((run_dir / "data").glob("*.parquet"))
        for r in pq.read_table(f).to_pylist()
    ]


def test_same_config_and_seed_give_same_rows_whatever_the_executor(tmp_path: Path) -> None:
    base = build(tmp_path / "a").run()
    threads = build(tmp_path / "b", concurrency=3, batch_size=2).run()
    procs = build(tmp_path / "c", executor="process", concurrency=2).run()
    rows = data_rows(base.root)
    assert rows and rows == data_rows(threads.root) == data_rows(procs.root)
    other_seed = build(tmp_path / "d").model_copy(update={"seed": 6}).run()
    assert data_rows(other_seed.root) != rows


def test_stats_add_up_and_rejects_keep_reason_and_raw(tmp_path: Path) -> None:
    result = build(tmp_path / "run").run()
    stages = result.stats["stages"]
    on_disk = json.loads((result.root / "stats.json").read_text())["stages"]
    assert list(on_disk) == ["range", "make_text", "filter.length", "dedup.exact", "tag"]
    for label in ("filter.length", "dedup.exact", "tag"):
        s = stages[label]
        assert s["rows_in"] == s["rows_out"] + s["rejected_total"]
    assert stages["filter.length"]["rejected"] == {
        "fewer than 2 words": stages["filter.length"]["rejected_total"]
    }
    assert stages["dedup.exact"]["rejected_total"] > 0
    assert result.rows == stages["tag"]["rows_out"] == len(data_rows(result.root))
    rejects = [
        json.loads(line)
        for f in sorted((result.root / "rejects" / "dedup.exact").glob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]
    assert len(rejects) == stages["dedup.exact"]["rejected_total"]
    kept_ids = {r["_meta"]["id"] for r in data_rows(result.root)} | {
        json.loads(line)["_meta"]["id"]
        for line in (result.root / "rejects" / "tag")
        .glob("*.jsonl")
        .__next__()
        .read_text()
        .splitlines()
    }
    for rej in rejects:
        assert rej["stage"] == "dedup.exact" and rej["reason"] == "exact duplicate"
        assert rej["raw"]["duplicate_of"] in kept_ids  # points at the row that was kept
        assert rej["row"]["text"]


def test_provenance_and_verdicts_on_every_row(tmp_path: Path) -> None:
    rows = data_rows(build(tmp_path / "run").run().root)
    for row in rows:
        meta = row["_meta"]
        assert meta["stage"] == "range" and meta["origin"] == "synthetic" and meta["seed"] == 5
        assert json.loads(meta["verdicts"])["filter.length"]["ok"] is True
    assert len({r["_meta"]["id"] for r in rows}) == len(rows)


def test_children_link_to_parents_and_read_keeps_provenance(tmp_path: Path) -> None:
    first = build(tmp_path / "first").run()
    chained = Pipeline(
        stages=[Read(path=str(first.root / "data")), FunctionStage(function=steps.double)],
        output=Output(dir=tmp_path / "second", format="jsonl"),
    ).run()
    parents = {r["_meta"]["id"] for r in data_rows(first.root)}
    lines = [
        json.loads(x)
        for f in sorted((chained.root / "data").glob("*.jsonl"))
        for x in f.read_text().splitlines()
    ]
    assert len(lines) == 2 * len(parents)
    assert {p for row in lines for p in row["_meta"]["parents"]} == parents
    assert isinstance(lines[0]["_meta"]["params"], dict)  # JSONL keeps meta as objects


def test_yaml_and_python_build_the_same_pipeline(tmp_path: Path) -> None:
    pipeline = build(tmp_path / "run", concurrency=2)
    config = pipeline.to_config()
    again = Pipeline.from_config(yaml.safe_load(pipeline.to_yaml()))
    assert again.to_config() == config
    assert config["stages"][1] == {
        "use": "map",
        "concurrency": 2,
        "function": "tests.pipeline.steps:make_text",
    }


def test_plan_cuts_segments_at_global_stages(tmp_path: Path) -> None:
    segments = plan(build(tmp_path).stages)
    assert [[s.label for s in seg] for seg in segments] == [
        ["range", "make_text", "filter.length"],
        ["dedup.exact"],
        ["tag"],
    ]


def test_duplicate_stage_names_get_suffixes(tmp_path: Path) -> None:
    p = Pipeline(stages=[Range(n=3), LengthFilter(), LengthFilter()], output=Output(dir=tmp_path))
    assert [s.label for s in p.stages] == ["range", "filter.length", "filter.length-2"]


def test_everything_rejected_publishes_a_card_only_with_allow_empty(tmp_path: Path) -> None:
    stages = [Range(n=5), FunctionStage(function=steps.make_text), LengthFilter(min_words=99)]
    pipe = Pipeline(stages=stages, output=Output(dir=tmp_path / "run"))
    with pytest.raises(RunFailedError, match=r"^every row was rejected by 'filter.length'"):
        pipe.run()
    assert not (tmp_path / "run" / "README.md").exists()
    result = pipe.model_copy(update={"allow_empty": True}).run()  # the same run, resumed
    assert result.rows == 0
    card = (result.root / "README.md").read_text()
    assert "filter.length** removed 5 rows: fewer than 99 words" in card
    assert "Every row was rejected: none of the 5 rows the source made was kept" in card


def test_card_front_matter_and_story(tmp_path: Path) -> None:
    result = build(tmp_path / "run").run()
    card = (result.root / "README.md").read_text()
    _, front, body = card.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert meta["configs"][0]["data_files"][0] == {"split": "train", "path": "data/train-*.parquet"}
    assert meta["size_categories"] == ["n<1K"] and "synthetic" in meta["tags"]
    assert f"{result.rows} rows, **100.0% synthetic**" in body
    assert "dedup.exact** removed" in body and "seed: 5" in body


def test_a_second_run_of_a_finished_run_redoes_nothing(tmp_path: Path) -> None:
    first = build(tmp_path / "run").run()
    markers = {p: p.stat().st_mtime_ns for p in (first.root / "work").rglob("*.done.json")}
    second = build(tmp_path / "run").run()
    assert second.rows == first.rows
    assert {p: p.stat().st_mtime_ns for p in markers} == markers


def test_concurrent_runs_in_one_dir_are_refused(tmp_path: Path) -> None:
    from synthmill.errors import RunDirError
    from synthmill.pipeline.rundir import RunDir

    pipeline = build(tmp_path / "run")
    held = RunDir(tmp_path / "run")
    held.prepare(pipeline.to_config(), 5, overwrite=False)
    try:
        with pytest.raises(RunDirError, match="another run holds the lock"):
            pipeline.run()
    finally:
        held.unlock()


def test_function_stage_rejects_lambdas() -> None:
    with pytest.raises(ValueError, match="define it at module level"):
        FunctionStage(function=lambda b: b)


def test_record_round_trip() -> None:
    rec = Record.new({"a": 1}, key="k", stage="s", params={"t": 0.5}).with_data(b="x")
    assert Record.from_row(rec.to_row()) == rec
    assert Record.new({"a": 1}, key="k", stage="s").meta.id == rec.meta.id


def test_card_stage_table_keeps_one_line_per_stage_when_options_hold_newlines(
    tmp_path: Path,
) -> None:
    from synthmill.curate.expression import ExpressionFilter

    keep = ExpressionFilter(expr="{{ text | length\n   > 0 }}", reason="empty\ntext")
    stages = [Range(n=3), FunctionStage(function=steps.make_text), keep]
    result = Pipeline(stages=stages, output=Output(dir=tmp_path / "run")).run()
    card = (result.root / "README.md").read_text()
    table = [line for line in card.splitlines() if line.startswith("| ")]
    assert any(line.startswith("| filter.expression |") and "\\n" in line for line in table)
    start = card.index("| stage | kind |")
    block = card[start : card.index("\n\n", start)].splitlines()
    assert all(line.startswith("|") and line.endswith("|") for line in block), block
