"""`generate` with the fake backend: templates, free text, schemas, samples, provenance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from synthmill import ConfigError, Pipeline
from synthmill.errors import DataError
from synthmill.io.records_io import read_records
from synthmill.llm.fake import FakeBackend
from synthmill.pipeline.stage import StageContext
from synthmill.recipes.generate import Generate
from synthmill.records import Record
from tests.recipes import gen_replies

ECHO = {"type": "fake", "function": "tests.recipes.gen_replies:echo", "model": "fake-m"}
ANSWER = {"type": "fake", "function": "tests.recipes.gen_replies:answer", "model": "fake-m"}
SCHEMA = {"answer": "str", "confidence": {"type": "integer", "minimum": 1, "maximum": 5}}


def rows(*topics: str) -> list[Record]:
    return [Record.new({"topic": t, "level": "expert"}, key=t, stage="src") for t in topics]


def ctx() -> StageContext:
    return StageContext(seed=3, stage="generate")


def stage(**options: Any) -> Generate:
    return Generate.model_validate({"backend": ECHO, **options})


def test_free_text_is_rendered_stored_raw_and_has_provenance() -> None:
    g = stage(
        prompt="Ask about {{ topic }} ({{ level }}).",
        system="You teach {{ level }}s.",
        output="question",
        temperature=0.3,
        top_p=0.9,
        max_tokens=50,
        stop=["\n\n"],
    )
    parents = rows("tides", "bees")
    out = g.process(parents, ctx())
    assert [r.data["topic"] for r in out] == ["tides", "bees"]
    text = out[0].data["question"]
    assert text.startswith("system: You teach experts. || user: Ask about tides (expert).")
    assert not text.startswith(("{", '"', " ")) and not text.endswith("\n")  # not JSON-wrapped
    request = gen_replies.CALLS[-2]
    assert request.json_schema is None and request.stop == ("\n\n",)
    assert (request.temperature, request.top_p, request.max_tokens) == (0.3, 0.9, 50)
    for parent, r in zip(parents, out, strict=True):
        m = r.meta
        assert (m.recipe, m.model, m.origin, m.parents) == (
            "generate",
            "fake-m",
            "synthetic",
            (parent.meta.id,),
        )
        assert m.prompt_hash and m.seed is not None and m.params["json_schema"] is False
        assert f"seed={m.seed}" in r.data["question"]


def test_schema_fields_become_columns_and_bad_replies_are_rejected_with_raw() -> None:
    g = Generate.model_validate({"backend": ANSWER, "prompt": "Q: {{ topic }}", "schema": SCHEMA})
    out = g.process(rows("tides"), ctx())
    assert out[0].data["answer"].startswith("answer ") and out[0].data["confidence"] == 1
    assert out[0].meta.params["json_schema"] is True and g.writes() == ["answer", "confidence"]
    sent = gen_replies.CALLS[-1].json_schema
    assert sent["properties"]["confidence"]["maximum"] == 5
    bad = Generate.model_validate(
        {
            "backend": {**ANSWER, "function": "tests.recipes.gen_replies:out_of_range"},
            "prompt": "Q: {{ topic }}",
            "schema": SCHEMA,
            "retries": 1,
        }
    )
    c = ctx()
    (rejected,) = bad.process(rows("tides"), c)
    assert rejected.rejected and rejected.meta.rejection is not None
    assert rejected.meta.rejection.reason == "schema mismatch"
    assert rejected.meta.rejection.raw["output"] == '{"answer": "sure", "confidence": 9}'
    assert rejected.meta.rejection.raw["attempts"] == 2 and c.counters["llm.calls"] == 2


def test_schema_by_import_path_and_by_class() -> None:
    for spec in ("tests.recipes.gen_replies:Answer", gen_replies.Answer):
        g = Generate.model_validate({"backend": ANSWER, "prompt": "{{ topic }}", "schema": spec})
        (r,) = g.process(rows("bees"), ctx())
        assert set(r.data) == {"topic", "level", "answer", "confidence"} and not r.rejected
        assert g.to_config()["schema"] == "tests.recipes.gen_replies:Answer"


def test_n_samples_are_children_with_distinct_seeds_independent_of_batching() -> None:
    g = stage(prompt="{{ topic }}", output="q", n=3)
    parents = rows("tides", "bees")
    together = g.process(parents, ctx())
    apart = [r for p in parents for r in g.process([p], ctx())]
    assert [r.to_row() for r in together] == [r.to_row() for r in apart]
    assert len(together) == 6 and len({r.meta.id for r in together}) == 6
    assert len({r.meta.seed for r in together}) == 6
    assert [r.meta.params["sample"] for r in together] == [0, 1, 2, 0, 1, 2]
    assert {r.meta.parents for r in together} == {(p.meta.id,) for p in parents}


def test_stage_seed_salts_sampling_seeds() -> None:
    a = stage(prompt="{{ topic }}", output="q").process(rows("tides"), ctx())[0]
    b = stage(prompt="{{ topic }}", output="q", seed=5).process(rows("tides"), ctx())[0]
    assert a.meta.seed != b.meta.seed


def test_empty_reply_and_failed_call_are_rejected_not_lost() -> None:
    empty = Generate(prompt="{{ topic }}", output="q", backend=FakeBackend(replies=["   "]))
    c = ctx()
    (r,) = empty.process(rows("tides"), c)
    assert r.rejected and r.meta.rejection is not None and r.meta.rejection.reason == "empty output"
    assert r.meta.rejection.raw["attempts"] == 3 and c.counters["llm.calls"] == 3
    retried = stage(prompt="{{ topic }} {{ level }}", output="q", retries=1)
    retried.backend = FakeBackend(function="tests.recipes.gen_replies:empty_first")
    first = stage(prompt="{{ topic }} {{ level }}", output="q").process(rows("moss"), ctx())[0]
    (r,) = retried.process(rows("moss"), ctx())
    assert r.data["q"] == "second try for moss expert" and r.meta.params["attempts"] == 2
    assert r.meta.seed == first.meta.seed + 1  # the row records the seed that gave its text
    failing = Generate(prompt="{{ topic }}", output="q", backend=FakeBackend(fail_every=1))
    (r,) = failing.process(rows("tides"), ctx())
    assert r.meta.rejection is not None and r.meta.rejection.reason == "llm call failed"


def test_reads_lists_template_columns_and_missing_column_raises_before_calls() -> None:
    g = stage(
        prompt="{% for x in range(1) %}{{ topic }}{% endfor %}", system="{{ persona }}", output="q"
    )
    assert g.reads() == ["persona", "topic"]
    before = len(gen_replies.CALLS)
    with pytest.raises(DataError, match=r"'persona'.*columns: level, topic"):
        g.process(rows("tides"), ctx())
    assert len(gen_replies.CALLS) == before


def test_the_sandbox_refuses_python_internals() -> None:
    g = stage(prompt="{{ topic.__class__.__mro__ }}", output="q")
    with pytest.raises(DataError, match="sandbox"):
        g.process(rows("tides"), ctx())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"prompt": "Hi {{ topic }", "output": "q"}, "stages.1.prompt: template syntax error"),
        ({"prompt": "{{ topic }}", "system": "{% if %}", "output": "q"}, "stages.1.system"),
        ({"prompt": "{{ topic }}"}, "either output: COLUMN"),
        ({"prompt": "{{ topic }}", "output": "q", "schema": {"a": "str"}}, "either output"),
        ({"prompt": "{{ topic }}", "output": "my col"}, "not a column name"),
        ({"prompt": "{{ topic }}", "schema": {"a": "strr"}}, "unknown type 'strr'"),
        (
            {"prompt": "{{ topic }}", "schema": {"a": {"type": "integer", "maxLength": 3}}},
            "maxLength applies to string",
        ),
        ({"prompt": "{{ topic }}", "schema": {}}, "schema has no fields"),
        ({"prompt": "{{ topic }}", "schema": "nomodule.x:Answer"}, "cannot import 'nomodule.x'"),
        ({"prompt": "{{ topic }}", "schema": "json:loads"}, "not a pydantic model"),
        ({"prompt": "{{ topic }}", "output": "q", "n": 0}, "stages.1.n"),
        ({"prompt": "{{ topic }}", "output": "q", "temprature": 1}, "did you mean 'temperature'"),
    ],
)
def test_bad_config_is_one_line(options: dict[str, Any], message: str) -> None:
    config = {
        "stages": [{"use": "range", "n": 1}, {"use": "generate", "backend": ECHO, **options}],
        "output": {"dir": "unused"},
    }
    with pytest.raises(ConfigError, match=message) as info:
        Pipeline.from_config(config)
    assert "\n" not in str(info.value)


def pipeline(tmp_path: Path, *stages: dict[str, Any]) -> Pipeline:
    src = tmp_path / "topics.jsonl"
    src.write_text("".join(json.dumps({"topic": t}) + "\n" for t in ("tides", "bees", "moss")))
    return Pipeline.from_config(
        {
            "name": "g",
            "seed": 1,
            "backend": ANSWER,
            "stages": [{"use": "read", "path": str(src)}, *stages],
            "output": {"dir": str(tmp_path / "run")},
        }
    )


def test_pipeline_run_cache_provenance_and_yaml_round_trip(tmp_path: Path) -> None:
    p = pipeline(
        tmp_path,
        {"use": "generate", "name": "question", "prompt": "About {{ topic }}", "output": "q"},
        {"use": "generate", "prompt": "{{ q }}", "schema": SCHEMA, "n": 2},
    )
    assert Pipeline.from_config(p.to_config()).to_config() == p.to_config()
    stats = p.run().stats["stages"]
    assert stats["generate"]["rows_out"] == 6 and stats["question"]["counters"]["llm.calls"] == 3
    rows_ = [r for f in sorted((tmp_path / "run/data").glob("*.parquet")) for r in read_records(f)]
    assert {r.meta.recipe for r in rows_} == {"generate"} and all(r.data["answer"] for r in rows_)
    again = pipeline(tmp_path, *[s.to_config() for s in p.stages[1:]])
    second = again.run(overwrite=True).stats["stages"]
    assert second["question"]["counters"].get("llm.calls", 0) == 0  # served from the cache
    assert second["question"]["counters"]["llm.cache_hits"] == 3


def test_row_values_are_data_never_template_code() -> None:
    hostile = [Record.new({"topic": "{{ 7 * 7 }} {% if true %}x{% endif %}"}, key=1, stage="s")]
    (r,) = stage(prompt="About {{ topic }}", output="q").process(hostile, ctx())
    assert "user: About {{ 7 * 7 }} {% if true %}x{% endif %}" in r.data["q"]


def test_support_tickets_example_runs_with_the_fake_backend(tmp_path: Path) -> None:
    pytest.importorskip("faker")
    overrides = [f"output.dir={tmp_path / 'st'}", f"backend={json.dumps(ANSWER)}", "stages.0.n=6"]
    p = Pipeline.from_yaml(Path(__file__).parents[2] / "examples/support_tickets.yaml", overrides)
    root = p.run().root
    out = [r for f in sorted((root / "data").glob("*.parquet")) for r in read_records(f)]
    assert len(out) == 6
    for r in out:
        first = r.data["customer"]["first_name"]
        assert r.data["message"].startswith(f"system: You are {first}, a customer")
        assert f"your {r.data['product']} has this problem: {r.data['issue']}." in r.data["message"]
        assert r.data["category"] == "hardware" and r.data["priority"] == 1  # first enum, min
        assert (2 <= r.data["sla_hours"] <= 8) == (r.data["plan"] == "premium")


def test_schema_key_is_named_schema_in_errors_and_listings() -> None:
    config = {
        "stages": [
            {"use": "range", "n": 1},
            {"use": "generate", "prompt": "x", "schemaa": {"a": "str"}, "backend": ECHO},
        ],
        "output": {"dir": "x"},
    }
    with pytest.raises(ConfigError, match="did you mean 'schema'"):
        Pipeline.from_config(config)
    by_name = Generate.model_validate(
        {"prompt": "x", "output_schema": {"a": "str"}, "backend": ECHO}
    )
    assert by_name.to_config()["schema"] == {"a": "str"}
