"""Input formats: CSV, JSONL, Parquet, text per file and per line, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthmill.errors import DataError
from synthmill.pipeline.stage import StageContext
from synthmill.sources.read import Read


def rows_of(**options: object) -> list[dict[str, object]]:
    return [r.data for r in Read(**options).rows(StageContext(seed=0, stage="read"))]


def test_csv_jsonl_parquet_give_the_same_rows(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("text,label\nhello,x\nworld,y\n")
    (tmp_path / "a.jsonl").write_text(
        '{"text": "hello", "label": "x"}\n\n{"text": "world", "label": "y"}\n'
    )
    pq.write_table(
        pa.table({"text": ["hello", "world"], "label": ["x", "y"]}), tmp_path / "a.parquet"
    )
    expected = [{"text": "hello", "label": "x"}, {"text": "world", "label": "y"}]
    for name in ("a.csv", "a.jsonl", "a.parquet"):
        assert rows_of(path=str(tmp_path / name)) == expected


def test_text_per_file_and_per_line(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "one.txt").write_text("first doc\nsecond line\n")
    (docs / "two.md").write_text("# title\n")
    assert rows_of(path=str(docs)) == [
        {"text": "first doc\nsecond line\n", "source": "one.txt"},
        {"text": "# title\n", "source": "two.md"},
    ]
    assert rows_of(path=str(docs / "one.txt"), per="line") == [
        {"text": "first doc"},
        {"text": "second line"},
    ]


def test_glob_and_limit(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"p{i}.jsonl").write_text(f'{{"i": {i}}}\n{{"i": {i + 10}}}\n')
    assert [r["i"] for r in rows_of(path=str(tmp_path / "p*.jsonl"), limit=3)] == [0, 10, 1]


def test_ids_are_stable_and_origin_is_real(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"t": 1}\n{"t": 2}\n')
    ctx = StageContext(seed=0, stage="read")
    first = list(Read(path=str(tmp_path / "a.jsonl")).rows(ctx))
    again = list(Read(path=str(tmp_path / "a.jsonl")).rows(ctx))
    assert [r.meta.id for r in first] == [r.meta.id for r in again]
    assert len({r.meta.id for r in first}) == 2 and first[0].meta.origin == "real"


def test_bad_json_line_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"ok": 1}\n{oops}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: not valid JSON"):
        rows_of(path=str(tmp_path / "bad.jsonl"))


def test_unknown_extension_says_how_to_fix(tmp_path: Path) -> None:
    (tmp_path / "data.xyz").write_text("x")
    with pytest.raises(DataError, match="set format: to one of csv, jsonl, parquet, text"):
        rows_of(path=str(tmp_path / "data.xyz"))
