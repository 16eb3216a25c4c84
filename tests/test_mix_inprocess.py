"""The `mix` source in this process (the CLI tests in test_mix.py run it as a subprocess):
shares, budgets, policies, generations, lineage, id clashes, warnings and `describe`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from synthmill import ConfigError, Pipeline
from synthmill.io.records_io import read_records
from synthmill.mix import describe, select, shares
from synthmill.records import Record


def write(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def run(tmp_path: Path, name: str = "m", **mix: Any) -> tuple[list[Record], dict[str, Any]]:
    config = {"name": name, "seed": 4, "stages": [{"use": "mix", **mix}]}
    config["output"] = {"dir": str(tmp_path / name)}
    result = Pipeline.from_config(config).run()
    rows = [r for f in sorted((result.root / "data").glob("*.parquet")) for r in read_records(f)]
    return rows, result.stats


def lineage(r: Record) -> tuple[str, str, int]:
    mix = r.meta.params["mix"]
    return r.meta.origin, mix["source"], mix["generation"]


def test_share_budget_and_lineage(tmp_path: Path) -> None:
    real = write(tmp_path / "human.jsonl", [{"text": f"h{i}"} for i in range(20)])
    synth = write(tmp_path / "model.jsonl", [{"text": f"s{i}"} for i in range(20)])
    rows, stats = run(tmp_path, real=[real], synthetic=[synth], synthetic_share=0.25, budget=8)
    assert Counter(lineage(r) for r in rows) == {
        ("real", "human", 0): 6,
        ("synthetic", "model", 1): 2,
    }
    assert stats["origin"] == {"real": 6, "synthetic": 2}
    assert describe(stats) == "8 rows, 25.0% synthetic"
    counters = stats["stages"]["mix"]["counters"]
    assert counters == {"real rows from human (gen 0)": 6, "synthetic rows from model (gen 1)": 2}


def test_replace_keeps_the_newest_generation_and_generations_are_named(tmp_path: Path) -> None:
    real = write(tmp_path / "r.jsonl", [{"text": "r"}])
    g = [
        write(tmp_path / f"g{i}.jsonl", [{"text": f"g{i}-{j}"} for j in range(i)])
        for i in (1, 2, 3)
    ]
    rows, _ = run(tmp_path, "acc", real=[real], synthetic=g, generations=[5, 9, 7])
    assert Counter(lineage(r)[2] for r in rows) == {0: 1, 5: 1, 9: 2, 7: 3}
    rows, _ = run(
        tmp_path, "rep", real=[real], synthetic=g, generations=[5, 9, 7], policy="replace"
    )
    assert Counter(lineage(r) for r in rows) == {("real", "r", 0): 1, ("synthetic", "g2", 9): 2}
    rows, _ = run(tmp_path, "dflt", real=[real], synthetic=g, policy="replace")
    assert {lineage(r) for r in rows if r.meta.origin == "synthetic"} == {("synthetic", "g3", 3)}


def test_the_subsample_depends_on_the_seed_not_the_order(tmp_path: Path) -> None:
    rows = [Record.new({"text": str(i)}, key=i, stage="read", origin="real") for i in range(30)]
    one = select(rows, None, 10, seed=1)
    assert [r.meta.id for r in select(list(reversed(rows)), None, 10, seed=1)] == [
        r.meta.id for r in reversed(one)
    ]
    assert {r.meta.id for r in select(rows, None, 10, seed=2)} != {r.meta.id for r in one}
    assert len(one) == 10 and [r.meta.id for r in one] == [r.meta.id for r in rows if r in one]


def test_warnings_for_disagreeing_origin_and_missing_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(tmp_path, "a", real=[write(tmp_path / "a.jsonl", [{"text": "x", "n": 1}] * 2)])
    b = write(tmp_path / "b.jsonl", [{"text": "y"}])
    rows, stats = run(tmp_path, "mixed", real=[b], synthetic=[str(tmp_path / "a")])
    assert Counter(r.meta.origin for r in rows) == {"real": 1, "synthetic": 2}
    summary = stats["stages"]["mix"]["summary"]
    assert summary == {
        "warning 1": "2 rows of a were stored as real but given as synthetic; counted as synthetic",
        "warning 2": "b lacks column(s) n; its rows hold nulls there",
    }
    err = capsys.readouterr().err
    assert "warning: 2 rows of a were stored as real" in err
    assert len({r.meta.id for r in rows}) == 3


def test_rows_from_two_copies_of_a_run_get_distinct_ids(tmp_path: Path) -> None:
    src = write(tmp_path / "a.jsonl", [{"text": "x"}, {"text": "y"}])
    run(tmp_path, "one", real=[src])
    rows, _ = run(tmp_path, "both", synthetic=[str(tmp_path / "one"), str(tmp_path / "one")])
    assert len(rows) == 4 and len({r.meta.id for r in rows}) == 4


@pytest.mark.parametrize(
    ("args", "expected"),
    [((10, 10, 0.5, None), (10, 10)), ((10, 30, 0.5, 100), (10, 10)), ((9, 3, None, 4), (3, 1)),
     ((10, 10, 1.0, 5), (0, 5)), ((10, 10, 0.0, 5), (5, 0)), ((5, 100, 0.9, None), (5, 45))],
)  # fmt: skip
def test_shares_more_cases(
    args: tuple[int, int, float | None, int | None], expected: tuple[int, int]
) -> None:
    assert shares(*args) == expected


def test_impossible_shares_are_config_errors(tmp_path: Path) -> None:
    real = write(tmp_path / "r.jsonl", [{"text": "r"}])
    with pytest.raises(ConfigError, match=r"synthetic_share 0\.5 needs real and synthetic"):
        run(tmp_path, real=[real], synthetic_share=0.5)
    with pytest.raises(ConfigError, match="generations needs one number per synthetic dataset"):
        run(tmp_path, real=[real], synthetic=[real], generations=[1, 2])
    with pytest.raises(ConfigError, match="give at least one real or synthetic dataset"):
        run(tmp_path)
    rows = [Record.new({"text": "a"}, key=0, stage="read", origin="real")]
    with pytest.raises(ConfigError, match="needs both real and synthetic rows"):
        select(rows, 0.5, None, seed=0)


def test_plain_text_files_go_into_text_column(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("a note written by a person\n")
    rows, _ = run(tmp_path, real=[str(tmp_path / "notes.txt")], text_column="body")
    assert [r.data["body"] for r in rows] == ["a note written by a person\n"]
    assert "text" not in rows[0].data
