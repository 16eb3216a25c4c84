"""The `problems` source in real pipelines: Parquet out, reproducible, curriculum order."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from statistics import mean
from typing import Any

import pyarrow.parquet as pq
import pytest

from synthmill import Pipeline
from synthmill.errors import ConfigError
from synthmill.pipeline.stage import StageContext
from synthmill.problems.source import Problems
from tests.conftest import REPO


def _run(tmp_path: Path, name: str, **options: object) -> list[dict[str, Any]]:
    config = {
        "name": name,
        "seed": 3,
        "shard_size": 40,
        "stages": [{"use": "problems", **options}],
        "output": {"dir": str(tmp_path / name)},
    }
    result = Pipeline.from_config(config).run()
    files = sorted((result.root / "data").glob("*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def test_rows_carry_answer_family_difficulty_and_provenance(tmp_path: Path) -> None:
    rows = _run(tmp_path, "a", n=100, families=["algebra", "number_theory.gcd"])
    assert len(rows) == 100
    families = {r["family"] for r in rows}
    assert families == {
        "algebra.linear",
        "algebra.system",
        "algebra.quadratic",
        "number_theory.gcd",
    }
    for row in rows:
        assert row["answer"] and row["problem"] and row["difficulty"] in (1, 2, 3)
        meta = row["_meta"]
        assert meta["recipe"] == "problems" and meta["origin"] == "synthetic"
        assert f'"family": "{row["family"]}"' in meta["params"]


def test_reruns_are_identical_and_seed_matters(tmp_path: Path) -> None:
    a, b = _run(tmp_path, "a", n=60), _run(tmp_path, "b", n=60)
    assert _strip(a) == _strip(b)
    other = Problems(n=60)
    ctx = StageContext(seed=4, stage="problems")
    assert [r.data["problem"] for r in other.rows(ctx)] != [r[0] for r in _strip(a)]


def _strip(rows: list[dict[str, Any]]) -> list[tuple[Any, Any, Any]]:
    return [(r["problem"], r["answer"], r["_meta"]["id"]) for r in rows]


def test_linear_curriculum_goes_from_easy_to_hard(tmp_path: Path) -> None:
    rows = _run(tmp_path, "c", n=300, difficulties=[1, 2, 3, 4, 5], curriculum="linear")
    levels = [int(r["difficulty"]) for r in rows]
    first, last = mean(levels[:60]), mean(levels[-60:])
    assert first < 2 and last > 4


def test_phased_curriculum(tmp_path: Path) -> None:
    phases = [{"share": 1, "weights": {1: 1}}, {"share": 1, "weights": {3: 1}}]
    rows = _run(tmp_path, "p", n=100, difficulties=[1, 3], curriculum=phases)
    levels = [r["difficulty"] for r in rows]
    assert set(levels[:50]) == {1} and set(levels[50:]) == {3}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n": 5, "families": ["algebra.cubic"]}, "unknown family"),
        ({"n": 5, "difficulties": [9]}, "between 1 and 5"),
        ({"n": 5, "curriculum": [{"share": 1, "weights": {4: 1}}]}, "not in difficulties"),
    ],
)
def test_bad_options_are_config_errors(options: dict[str, object], message: str) -> None:
    config = {"stages": [{"use": "problems", **options}], "output": {"dir": "x"}}
    with pytest.raises(ConfigError, match=message):
        Pipeline.from_config(config)


@pytest.mark.slow
def test_cli_runs_the_example(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "synthmill", "run", str(REPO / "examples/problems.yaml")]
    cmd += ["--set", "stages.0.n=120", "--set", f"output.dir={out}"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    table = pq.read_table(next((out / "data").glob("*.parquet")))
    assert table.num_rows == 120  # the source makes no duplicates
    assert len(set(table.column("problem").to_pylist())) == 120
    assert "problems" in (out / "README.md").read_text()


def test_problem_texts_are_unique_and_the_same_on_every_shard_layout(tmp_path: Path) -> None:
    options = {"n": 400, "difficulties": [1, 2], "families": ["number_theory", "probability"]}
    small = _run(tmp_path, "s", **options)
    config = {
        "name": "big",
        "seed": 3,
        "shard_size": 1000,
        "stages": [{"use": "problems", **options}],
        "output": {"dir": str(tmp_path / "big")},
    }
    result = Pipeline.from_config(config).run()
    files = sorted((result.root / "data").glob("*.parquet"))
    big = [row for f in files for row in pq.read_table(f).to_pylist()]
    texts = [r["problem"] for r in small]
    assert len(set(texts)) == 400
    assert texts == [r["problem"] for r in big]
    assert any('"redraws"' in r["_meta"]["params"] for r in small)  # collisions were redrawn


def test_a_small_cell_is_used_up_and_then_the_run_stops_with_a_config_error() -> None:
    ctx = StageContext(seed=1, stage="problems")
    six = [
        r.data["problem"]
        for r in Problems(n=6, families=["probability"], difficulties=[1]).rows(ctx)
    ]
    assert len(set(six)) == 6
    with pytest.raises(ConfigError, match="make only 6 distinct"):
        list(Problems(n=7, families=["probability"], difficulties=[1]).rows(ctx))
    mixed = Problems(n=60, families=["probability", "sequence"], difficulties=[1])
    rows = [r.data for r in mixed.rows(ctx)]
    assert len({r["problem"] for r in rows}) == 60
    assert sum(r["family"] == "probability" for r in rows) == 6  # all six, then only sequences


@pytest.mark.parametrize(
    ("family", "level"),
    [("probability", 1), ("probability", 2), ("sequence", 1), ("number_theory.lcm", 1),
     ("number_theory.gcd", 1), ("algebra.quadratic", 1)],
)  # fmt: skip
def test_exact_capacity_matches_what_sampling_finds(family: str, level: int) -> None:
    import random

    from synthmill.problems import FAMILIES
    from synthmill.problems.capacity import capacity

    room = capacity(family, level)
    found = {FAMILIES[family](random.Random(s), level).problem for s in range(6000)}
    assert room.exact and room.count == len(found), (room, len(found))


def test_capacity_of_large_cells_is_a_lower_bound() -> None:
    from synthmill.problems.capacity import capacity

    room = capacity("arithmetic.integer", 5)
    assert not room.exact and room.count > 4000 and str(room).startswith(">=")


def test_stages_problems_lists_the_capacity_table(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from synthmill.cli import app
    from synthmill.problems import source

    small = {"probability": {d: str(capacity_of("probability", d)) for d in range(1, 6)}}
    monkeypatch.setattr(source, "FAMILIES", {"probability": None})
    monkeypatch.setattr(source, "capacity_table", lambda families, levels: small)
    result = CliRunner().invoke(app, ["stages", "problems"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "curriculum" in result.output  # the options
    # the capacity table's row (the options table above names the family in a default list)
    row = next(line for line in result.output.splitlines() if line.startswith("│ probability"))
    assert re.findall(r"\d+", row) == ["6", "11", "75", "80", "80"]


def capacity_of(family: str, level: int) -> int:
    from synthmill.problems.capacity import capacity

    return capacity(family, level).count


@pytest.mark.slow
def test_asking_for_more_than_exists_fails_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "synthmill", "run", str(REPO / "examples/problems.yaml")]
    cmd += ["--set", "stages.0.n=7", "--set", "stages.0.families=[probability]"]
    cmd += ["--set", "stages.0.difficulties=[1]", "--set", f"output.dir={out}"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: 7 problems asked")
    assert not out.exists()


@pytest.mark.slow
def test_five_thousand_problems_of_every_family_are_all_distinct() -> None:
    source = Problems(n=5000, families=["arithmetic", "algebra", "word", "number_theory",
                                        "sequence", "units", "probability", "code"],
                      difficulties=[1, 2, 3, 4, 5])  # fmt: skip
    ctx = StageContext(seed=7, stage="problems")
    texts = [r.data["problem"] for r in source.rows(ctx)]
    assert len(texts) == 5000 and len(set(texts)) == 5000
    assert 0 < ctx.counters["redrawn_duplicates"] < 5000
