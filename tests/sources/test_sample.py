"""`sample`: samplers draw the values they promise, seeded per row, with one-line errors."""

from __future__ import annotations

import statistics
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from synthmill import ConfigError, Pipeline
from synthmill.io.records_io import read_records
from synthmill.pipeline.stage import StageContext
from synthmill.sources.sample import Sample
from synthmill.sources.samplers import Category

TOPICS = {"volcanoes": ["lava", "ash"], "tides": ["moon"], "bees": ["hive", "wax", "dance"]}


def draw(columns: dict[str, Any], n: int = 400, seed: int = 1) -> list[dict[str, Any]]:
    stage = Sample(n=n, columns=columns)
    return [r.data for r in stage.rows(StageContext(seed=seed, stage=stage.label))]


def test_category_weights_and_subcategory_follow_their_parent() -> None:
    rows = draw(
        {
            "topic": list(TOPICS),
            "level": {"type": "category", "values": ["beginner", "expert"], "weights": [3, 1]},
            "detail": {"type": "subcategory", "parent": "topic", "values": TOPICS},
        },
        n=2000,
    )
    assert {r["topic"] for r in rows} == set(TOPICS)
    share = sum(r["level"] == "expert" for r in rows) / len(rows)
    assert 0.21 < share < 0.29  # weight 1 of 4, within about 4 standard errors
    assert all(r["detail"] in TOPICS[r["topic"]] for r in rows)
    assert {r["detail"] for r in rows if r["topic"] == "bees"} == set(TOPICS["bees"])


def test_numeric_samplers_stay_in_range_with_the_right_moments() -> None:
    rows = draw(
        {
            "u": {"type": "uniform", "low": 2, "high": 4, "decimals": 2},
            "g": {"type": "gaussian", "mean": 10, "std": 2},
            "clipped": {"type": "gaussian", "mean": 0, "std": 5, "min": -1, "max": 1},
            "i": {"type": "integer", "low": 1, "high": 3},
            "b": {"type": "bernoulli", "p": 0.2},
        },
        n=3000,
    )
    assert all(2 <= r["u"] <= 4 and round(r["u"], 2) == r["u"] for r in rows)
    assert abs(statistics.fmean(r["g"] for r in rows) - 10) < 0.15
    assert abs(statistics.stdev(r["g"] for r in rows) - 2) < 0.15
    assert all(-1 <= r["clipped"] <= 1 for r in rows)
    assert {r["i"] for r in rows} == {1, 2, 3}
    assert abs(sum(r["b"] for r in rows) / len(rows) - 0.2) < 0.03
    assert all(isinstance(r["b"], bool) for r in rows)


def test_datetime_uuid_and_expressions() -> None:
    rows = draw(
        {
            "day": {"type": "datetime", "start": "2021-03-01", "end": "2021-03-31"},
            "at": {
                "type": "datetime",
                "start": "2020-01-01T10:00:00",
                "end": "2020-01-01T11:00:00",
                "format": "%H:%M",
            },
            "id": {"type": "uuid"},
            "age": {"type": "integer", "low": 20, "high": 30},
            "months": "{{ age * 12 }}",
            "intro": "I am {{ age }} and born on {{ day }}.",
        },
        n=200,
    )
    for r in rows:
        assert "2021-03-01" <= r["day"] <= "2021-03-31"
        assert r["at"].startswith("10:")
        assert uuid.UUID(r["id"]).version == 4
        assert r["months"] == r["age"] * 12 and isinstance(r["months"], int)
        assert r["intro"] == f"I am {r['age']} and born on {r['day']}."
    assert len({r["id"] for r in rows}) == 200


def test_conditions_override_options_where_they_hold() -> None:
    rows = draw(
        {
            "level": ["beginner", "expert"],
            "difficulty": {
                "type": "category",
                "values": ["easy", "medium"],
                "conditions": [{"when": "{{ level == 'expert' }}", "values": ["hard", "brutal"]}],
            },
            "minutes": {
                "type": "integer",
                "low": 1,
                "high": 5,
                "conditions": [{"when": "level == 'expert'", "low": 50, "high": 60}],
            },
        }
    )
    for r in rows:
        expert = r["level"] == "expert"
        assert (r["difficulty"] in ("hard", "brutal")) == expert
        assert (50 <= r["minutes"] <= 60) == expert
    assert {r["difficulty"] for r in rows} == {"easy", "medium", "hard", "brutal"}


def test_faker_samplers_follow_the_locale_and_are_seeded() -> None:
    pytest.importorskip("faker")
    columns = {
        "person": {"type": "person", "locale": "de_DE"},
        "email": {"type": "email"},
        "job": {"type": "faker", "method": "job", "locale": "fr_FR"},
        "greeting": "Hallo {{ person.first_name }}",
    }
    rows = draw(columns, n=20)
    assert rows == draw(columns, n=20)
    assert len({r["person"]["name"] for r in rows}) > 15
    for r in rows:
        assert set(r["person"]) >= {"first_name", "last_name", "sex", "age", "city"}
        assert "@" in r["email"] and r["greeting"] == f"Hallo {r['person']['first_name']}"
    assert any(ch in "äöüßé" for r in rows for ch in r["person"]["name"] + r["job"])


def test_rows_depend_on_row_id_not_on_shards_and_adding_a_column_keeps_the_others(
    tmp_path: Path,
) -> None:
    columns: dict[str, Any] = {"topic": list(TOPICS), "x": {"type": "gaussian"}}

    def run(shard_size: int, cols: dict[str, Any], name: str) -> list[dict[str, Any]]:
        p = Pipeline(
            stages=[Sample(n=25, columns=cols)],
            shard_size=shard_size,
            seed=4,
            output={"dir": tmp_path / name},
        )
        root = p.run().root
        return [r.data for f in sorted((root / "data").glob("*.parquet")) for r in read_records(f)]

    a = run(7, columns, "a")
    assert a == run(25, columns, "b") and len(a) == 25
    more = run(7, {**columns, "flag": {"type": "bernoulli"}}, "c")
    assert [{k: r[k] for k in columns} for r in more] == a
    assert draw(columns, 5, seed=1) != draw(columns, 5, seed=2)


def test_python_sampler_objects_write_yaml_back() -> None:
    stage = Sample(n=3, columns={"topic": Category(values=["a", "b"], weights=[1, 2])})
    config = stage.to_config()
    assert config["columns"] == {
        "topic": {"type": "category", "values": ["a", "b"], "weights": [1.0, 2.0]}
    }
    rebuilt = Pipeline.from_config({"stages": [config], "output": {"dir": "x"}}).stages[0]
    ctx = StageContext(seed=0, stage="sample")
    assert [r.data for r in rebuilt.rows(ctx)] == [r.data for r in stage.rows(ctx)]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"a": {"type": "categry", "values": [1]}}, "unknown sampler type 'categry'"),
        ({"a": {"type": "category", "valuez": [1]}}, "a.valuez: unknown key; did you mean"),
        ({"a": {"type": "category", "values": []}}, "a.values"),
        ({"a": {"type": "category", "values": [1, 2], "weights": [1]}}, "1 weights for 2"),
        ({"a": {"type": "category", "values": [1], "weights": [-1]}}, "non-negative"),
        ({"a": {"type": "integer", "low": 5, "high": 1}}, "lower bound 5 is above"),
        ({"a": {"type": "bernoulli", "p": 1.5}}, "a.p"),
        ({"a": {"type": "gaussian", "std": -1}}, "a.std"),
        ({"a": {"type": "datetime", "start": "yesterday", "end": "2020-01-01"}}, "a.start"),
        ({"a": "{{ b }}"}, "refers to unknown column 'b'"),
        ({"a": "{{ b }}", "b": "{{ a }}"}, "cycle: a -> b -> a"),
        ({"a": "{{ b"}, "a"),
        (
            {"a": {"type": "subcategory", "parent": "zz", "values": {"x": [1]}}},
            "unknown column 'zz'",
        ),
        (
            {
                "a": {
                    "type": "category",
                    "values": [1],
                    "conditions": [{"when": "{{ x ==", "values": [2]}],
                }
            },
            "expression syntax error",
        ),
        (
            {
                "a": {
                    "type": "category",
                    "values": [1],
                    "conditions": [{"when": "true", "type": "uuid"}],
                }
            },
            "may not change type",
        ),
        ({"a": {"type": "person", "locale": "xx_YY"}}, "unknown Faker locale 'xx_YY'"),
        ({"a": {"type": "faker", "method": "no_such_method"}}, "no method 'no_such_method'"),
        ({"a": 5}, "expected a mapping with type"),
        ({"my col": [1]}, "not a column name"),
    ],
)
def test_bad_sampler_spec_is_one_line_config_error(columns: dict[str, Any], message: str) -> None:
    config = {"stages": [{"use": "sample", "n": 2, "columns": columns}], "output": {"dir": "x"}}
    with pytest.raises(ConfigError, match=message) as info:
        Pipeline.from_config(config)
    assert "\n" not in str(info.value) and str(info.value).startswith("stages.0")


def test_subcategory_without_values_for_a_parent_value_fails_on_the_row() -> None:
    with pytest.raises(Exception, match="no values for topic='bees'"):
        draw(
            {
                "topic": ["bees"],
                "d": {"type": "subcategory", "parent": "topic", "values": {"tides": ["moon"]}},
            },
            n=1,
        )


def test_datetime_accepts_yaml_dates() -> None:
    rows = draw(
        {
            "d": {
                "type": "datetime",
                "start": datetime(2020, 1, 1).date(),
                "end": datetime(2020, 1, 2).date(),
            }
        },
        n=5,
    )
    assert all(r["d"].startswith("2020-01-0") for r in rows)
