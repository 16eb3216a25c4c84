"""`synthmill.generate(...)` for notebooks: list, DataFrame and Dataset in, same type out."""

from __future__ import annotations

from typing import Any

import pytest

import synthmill
from synthmill.errors import ConfigError, DataError
from tests.recipes import gen_replies

ANSWER = {"type": "fake", "function": "tests.recipes.gen_replies:answer", "model": "fake-m"}
ECHO = {"type": "fake", "function": "tests.recipes.gen_replies:echo"}
ROWS = [{"topic": "tides", "level": 1}, {"topic": "bees", "level": 2}]


def calls_during(fn: Any) -> tuple[Any, int]:
    before = len(gen_replies.CALLS)
    out = fn()
    return out, len(gen_replies.CALLS) - before


def test_list_of_dicts_gets_schema_columns_and_provenance() -> None:
    out = synthmill.generate(
        ROWS,
        prompt="Q about {{ topic }}",
        backend=ANSWER,
        schema=gen_replies.Answer,
        progress=False,
    )
    assert isinstance(out, list) and [r["topic"] for r in out] == ["tides", "bees"]
    for row in out:
        assert row["answer"].startswith("answer ") and row["confidence"] == 1
        meta = row["_meta"]
        assert meta["recipe"] == "generate" and meta["model"] == "fake-m" and meta["parents"]
        assert meta["params"]["json_schema"] is True and "rejection" not in meta
    assert ROWS == [{"topic": "tides", "level": 1}, {"topic": "bees", "level": 2}]  # untouched


def test_free_text_default_column_and_the_cache_serves_a_repeat() -> None:
    first, paid = calls_during(
        lambda: synthmill.generate(ROWS, prompt="{{ topic }}", backend=ECHO, progress=False)
    )
    assert paid == 2 and first[0]["response"].startswith("user: tides")
    again, paid = calls_during(
        lambda: synthmill.generate(list(reversed(ROWS)), prompt="{{ topic }}", backend=ECHO)
    )
    assert paid == 0  # same rows (any order), same seeds: answered from the response cache
    assert again[1]["response"] == first[0]["response"]
    fresh, paid = calls_during(
        lambda: synthmill.generate(ROWS, prompt="{{ topic }}", backend=ECHO, cache=False)
    )
    assert paid == 2 and fresh[0]["response"] == first[0]["response"]


def test_pandas_dataframe_round_trip_and_chaining_keeps_lineage() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(ROWS)
    questions = synthmill.generate(
        df, prompt="{{ topic }}", output="question", backend=ECHO, n=2, progress=False
    )
    assert isinstance(questions, pd.DataFrame) and len(questions) == 4
    assert list(questions.columns[:3]) == ["topic", "level", "question"]
    answers = synthmill.generate(
        questions, prompt="{{ question }}", schema={"answer": "str"}, backend=ANSWER, progress=False
    )
    assert len(answers) == 4 and answers["answer"].str.startswith("answer").all()
    for q_meta, a_meta in zip(questions["_meta"], answers["_meta"], strict=True):
        assert a_meta["parents"] == [q_meta["id"]]


def test_datasets_dataset_round_trip() -> None:
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list(ROWS)
    out = synthmill.generate(
        ds,
        prompt="{{ topic }}",
        schema={"answer": "str"},
        backend=ANSWER,
        max_tokens=64,
        temperature=0.2,
        progress=False,
    )
    assert isinstance(out, datasets.Dataset) and out.num_rows == 2
    assert {"topic", "level", "answer", "_meta"} <= set(out.column_names)
    assert out[0]["_meta"]["recipe"] == "generate"


def test_failed_rows_say_why_or_are_dropped() -> None:
    bad = {"type": "fake", "function": "tests.recipes.gen_replies:out_of_range"}
    kept = synthmill.generate(
        ROWS,
        prompt="{{ topic }}",
        schema=gen_replies.Answer,
        backend=bad,
        retries=0,
        progress=False,
    )
    assert [r["answer"] for r in kept] == [None, None]
    assert kept[0]["_meta"]["rejection"]["reason"] == "schema mismatch"
    assert kept[0]["_meta"]["rejection"]["raw"]["output"].startswith('{"answer"')
    dropped = synthmill.generate(
        ROWS,
        prompt="{{ topic }}",
        schema=gen_replies.Answer,
        backend=bad,
        retries=0,
        progress=False,
        on_error="drop",
    )
    assert dropped == []


def test_errors_come_before_any_call() -> None:
    for call, error, message in [
        (
            lambda: synthmill.generate(ROWS, prompt="{{ topc }}", backend=ECHO),
            DataError,
            "topc.*did you mean 'topic'",
        ),
        (
            lambda: synthmill.generate(ROWS, prompt="{{ topic }", backend=ECHO),
            ConfigError,
            "generate.prompt: template syntax error",
        ),
        (
            lambda: synthmill.generate(ROWS, prompt="x", schema={"a": "nope"}, backend=ECHO),
            ConfigError,
            "unknown type 'nope'",
        ),
        (
            lambda: synthmill.generate(ROWS, prompt="x", backend=ECHO, temprature=1),
            ConfigError,
            "did you mean 'temperature'",
        ),
        (
            lambda: synthmill.generate({"topic": "x"}, prompt="x", backend=ECHO),
            TypeError,
            "list of dicts",
        ),
        (lambda: synthmill.generate(["x"], prompt="x", backend=ECHO), TypeError, "not a dict"),
    ]:
        with pytest.raises(error, match=message):
            calls_during(call)
        assert "\n" not in message


def test_progress_bar_runs(capsys: pytest.CaptureFixture[str]) -> None:
    out = synthmill.generate(ROWS, prompt="{{ topic }}", backend=ECHO, progress=True)
    assert len(out) == 2
