"""Inputs that look fine at first: a file in the middle of a glob (or folder) without the
column the stages read. Its rows must not go through as nulls (dedup.exact kept one of five
distinct rows, calling the rest exact duplicates); the run stops before writing anything,
naming the file. Real parts: JSONL and Parquet files, the CLI in this process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from tests.helpers import cli


def jsonl(path: Path, key: str, n: int = 5) -> None:
    path.write_text("".join(json.dumps({key: f"row {i} of {path.stem}"}) + "\n" for i in range(n)))


def config(tmp: Path, path: str, *stages: dict[str, object]) -> Path:
    cfg = {"stages": [{"use": "read", "path": path}, *stages], "output": {"dir": str(tmp / "out")}}
    (tmp / "p.yaml").write_text(yaml.safe_dump(cfg))
    return tmp / "p.yaml"


@pytest.mark.parametrize("stage", [{"use": "dedup.exact"}, {"use": "filter.length"}])
def test_a_file_without_the_column_in_the_middle_of_a_glob_is_one_line(
    tmp_path: Path, stage: dict[str, object]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    jsonl(folder / "a.jsonl", "text")
    jsonl(folder / "b.jsonl", "body")  # a misspelt export, say
    pq.write_table(pa.table({"text": ["x y z"]}), folder / "c.parquet")
    for path in (str(folder / "*.*"), str(folder)):
        done = cli("run", str(config(tmp_path, path, stage)))
        assert done.returncode == 2, done.stderr
        assert done.stderr.splitlines() == [
            f"error: stage {stage['use']!r} reads column 'text', which the rows of "
            f"{folder / 'b.jsonl'} do not have; columns: 'body'"
        ]
        assert not (tmp_path / "out").exists()


def test_files_that_all_have_the_column_run(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    jsonl(folder / "a.jsonl", "text")
    jsonl(folder / "b.jsonl", "text")
    done = cli("run", str(config(tmp_path, str(folder), {"use": "dedup.exact"})))
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["rows"] == 10


@pytest.mark.parametrize(
    ("command", "out"), [(["dedup", "--method", "exact"], "o.jsonl"), (["measure"], "o.json")]
)
def test_file_commands_check_each_file_of_a_folder(
    tmp_path: Path, command: list[str], out: str
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    jsonl(folder / "a.jsonl", "text")
    jsonl(folder / "b.jsonl", "body")
    done = cli(command[0], str(folder), "--out", str(tmp_path / out), *command[1:])
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert f"reads column 'text', which the rows of {folder / 'b.jsonl'} do not have" in line
    assert not list(tmp_path.glob("o.*"))


def test_a_key_written_twice_in_the_config_is_one_line_not_the_last_one_winning(
    tmp_path: Path,
) -> None:
    jsonl(tmp_path / "rows.jsonl", "text")
    head = f"output: {{dir: {tmp_path / 'out'}}}\nstages:\n"
    head += f"  - {{use: read, path: {tmp_path / 'rows.jsonl'}}}\n"
    (tmp_path / "p.yaml").write_text(
        head + "  - use: filter.length\n    min_words: 3\n    min_words: 300\n"
    )
    done = cli("run", str(tmp_path / "p.yaml"))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"error: {tmp_path / 'p.yaml'} at line 6: key 'min_words' appears twice "
        "(also at line 5); keep one"
    ]
    assert not (tmp_path / "out").exists()
    merged = "  - &f {use: filter.length, min_words: 2}\n  - <<: *f\n    name: longer\n"
    (tmp_path / "p.yaml").write_text(head + merged + "    min_words: 3\n")  # a merge key is fine
    done = cli("run", str(tmp_path / "p.yaml"))
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("rows", "expect"),
    [
        ([{"text": "a b c", "_meta": {"foo": 1}}], "row 1: column '_meta' has no id"),
        ([{"text": "a b c", "_meta": "notes"}], ": column '_meta' holds text"),
        ([{"text": "a b c", "_meta": {"id": "x", "parents": "p"}}], "_meta.parents is not a list"),
    ],
)
def test_a_meta_column_that_is_not_provenance_is_one_line_before_the_run(
    tmp_path: Path, rows: list[dict[str, object]], expect: str
) -> None:
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = cli("run", str(config(tmp_path, str(tmp_path / "rows.jsonl"), {"use": "dedup.exact"})))
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: {tmp_path / 'rows.jsonl'}") and expect in line, line
    assert line.endswith("there; rename that column")
    assert not (tmp_path / "out").exists()


def test_a_parquet_meta_struct_without_an_id_is_one_line(tmp_path: Path) -> None:
    table = pa.table({"text": ["a b c"], "_meta": [{"note": "x"}]})
    pq.write_table(table, tmp_path / "rows.parquet")
    done = cli("run", str(config(tmp_path, str(tmp_path / "rows.parquet"))))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"error: {tmp_path / 'rows.parquet'}: column '_meta' has no id; synthmill keeps each "
        "row's provenance (a mapping with an id) there; rename that column"
    ]


def test_set_on_a_stage_label_two_stages_share_is_refused_not_applied_to_the_first(
    tmp_path: Path,
) -> None:
    jsonl(tmp_path / "rows.jsonl", "text")
    two = [{"use": "filter.length", "min_words": 1}, {"use": "filter.length", "name": "longer"}]
    path = config(tmp_path, str(tmp_path / "rows.jsonl"), *two)
    done = cli("run", str(path), "--set", "filter.length.min_words=40")
    assert (done.returncode, done.stderr.splitlines()) == (
        2,
        [
            "error: --set filter.length.min_words=40: 2 stages are 'filter.length' (stages.1, "
            "stages.2); write stages.N.min_words, or give each a name: and use that"
        ],
    )
    assert not (tmp_path / "out").exists()
    done = cli("run", str(path), "--set", "longer.min_words=40")  # a name is one stage
    assert done.returncode == 1 and "every row was rejected by 'longer'" in done.stderr


@pytest.mark.parametrize(
    ("code", "hint"),
    [("eng", "did you mean 'en'? "), ("EN", "did you mean 'en'? "), ("english", "")],
)
def test_a_language_code_the_detector_never_answers_is_one_line(
    tmp_path: Path, code: str, hint: str
) -> None:
    """It rejected every row as 'other language' (the file command: exit 0, 0 rows kept)."""
    jsonl(tmp_path / "rows.jsonl", "text")
    done = cli(
        "filter", str(tmp_path / "rows.jsonl"), "--out", str(tmp_path / "o.jsonl"), "-l", code
    )
    assert (done.returncode, done.stderr.splitlines()) == (
        2,
        [
            f"error: options.languages: unknown language {code!r}; {hint}use ISO 639 codes the "
            "detector knows, such as en, de, fr, es, zh, ja"
        ],
    )
    assert not list(tmp_path.glob("o*"))


def test_editing_a_map_function_then_running_again_is_refused_not_mixed(tmp_path: Path) -> None:
    """The function's file is an input (run.json fingerprints it): rows made by the old code
    are never resumed or re-published as if the new code had made them."""
    import sys

    module = "hostile_steps_for_resume"
    source = tmp_path / f"{module}.py"
    source.write_text("def tag(batch):\n    return [r.with_data(tag=1) for r in batch]\n")
    jsonl(tmp_path / "rows.jsonl", "text")
    path = config(
        tmp_path, str(tmp_path / "rows.jsonl"), {"use": "map", "function": f"{module}:tag"}
    )
    try:
        assert cli("run", str(path), cwd=tmp_path).returncode == 0
        run = json.loads((tmp_path / "out" / "run.json").read_text())
        assert str(source) in run["inputs"]
        source.write_text("def tag(batch):\n    return [r.with_data(tag=2) for r in batch]\n")
        done = cli("run", str(path), cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(f"error: input {source} changed (content differs) since")
        sys.modules.pop(module, None)
        assert cli("run", str(path), "--overwrite", cwd=tmp_path).returncode == 0
        data = next((tmp_path / "out" / "data").glob("*.parquet"))
        assert set(pq.read_table(data).column("tag").to_pylist()) == {2}
    finally:
        sys.modules.pop(module, None)
