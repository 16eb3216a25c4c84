"""The columnar path's kernels give what the row path's Python gives, value by value:
rejects lines (json.dumps), word counts (str.split), dedup normalization, JSONL blocks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from synthmill.curate.arrow_text import normalized, word_counts
from synthmill.curate.exact_dedup import ExactDedup
from synthmill.io import arrow_rows
from synthmill.io.arrow_rows import arrow_scan, json_batches
from synthmill.io.records_io import records_to_table
from synthmill.io.rows import ColumnKinds
from synthmill.pipeline import columnar
from synthmill.records import Record, Verdict

WHITESPACE = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
TRICKY = [
    "",
    "plain words here",
    " leading",
    "trailing ",
    "two  spaces",
    'a "quoted" \\ back\\slash',
    "ctrl \x00 \x01 \x1f \x7f end",
    "line\nbreak\ttab\r\n",
    "unicode é ε 漢字 \u2028 \u2029 sep",
    "Upper CASE Ünïcode ǅ ﬁ",
    *[f"a{w}b c" for w in WHITESPACE],
]


def test_word_counts_and_normalization_match_python_on_every_whitespace() -> None:
    values = pa.array(TRICKY)
    assert word_counts(values).tolist() == [len(t.split()) for t in TRICKY]
    dedup = ExactDedup()
    for lower in (True, False):
        for collapse in (True, False):
            stage = dedup.model_copy(update={"lowercase": lower, "collapse_whitespace": collapse})
            got = normalized(values, stage.normalize, lower, collapse).to_pylist()
            assert got == [stage.normalize(t) for t in TRICKY], (lower, collapse)


def test_table_keys_equal_the_row_keys() -> None:
    records = [
        Record.new({"text": t, "title": t[::-1]}, key=i, stage="read") for i, t in enumerate(TRICKY)
    ]
    table = records_to_table(records)
    for options in ({}, {"columns": ["text", "title"]}, {"strip_punctuation": True}):
        stage = ExactDedup(**options)
        assert stage.table_keys(table).tolist() == [stage.key(r) for r in records]


def _row_path_lines(label: str, records: list[Record], raws: list[object]) -> list[str]:
    """What the row path writes for these records rejected by `label` (rejects_writer)."""
    out = []
    for r, raw in zip(records, raws, strict=True):
        r = r.reject(label, f"too {len(r.data)}", raw)
        line = {"stage": label, "reason": f"too {len(r.data)}", "raw": raw, "row": r.data}
        line["_meta"] = r.meta.to_row(json_fields=False)
        out.append(json.dumps(line, ensure_ascii=False, default=str))
    return out


def _columnar_lines(label: str, records: list[Record], raws: list[object], as_json: bool) -> str:
    table = records_to_table(records)
    reasons = [f"too {len(r.data)}" for r in records]
    result = columnar.TableResult(table.slice(0, 0), table, reasons, list(raws))
    if as_json:
        result.raws = []
        result.raw_json = pa.array([json.dumps(r, ensure_ascii=False) for r in raws])
    return b"".join(b.to_pybytes() for b in columnar.reject_text(label, result)).decode()


@pytest.mark.parametrize("payloads", ["none", "python", "json"])
def test_reject_lines_hold_what_the_row_path_writes(payloads: str) -> None:
    """Text with quotes, control characters and Unicode, integers, booleans, nulls,
    doubles, lists, verdicts and a seed: each line decodes to the row path's line."""
    rows = [
        {"text": t, "n": i if i % 3 else None, "ok": i % 2 == 0, "x": i / 7, "tags": [t[:2]]}
        for i, t in enumerate(TRICKY)
    ]
    records = [Record.new(row, key=i, stage="read", seed=i or None) for i, row in enumerate(rows)]
    records = [r.with_verdict("len", Verdict(True, score=i)) for i, r in enumerate(records)]
    records[1] = records[1].with_data(extra="only here")
    raws: list[object] = [None] * len(records)
    if payloads != "none":
        raws = [
            {"duplicate_of": i - 1, "kept_id": "k\n", "kept_index": i} for i in range(len(rows))
        ]
    text = _columnar_lines('stage "x"', records, raws, payloads == "json")
    got = text.split("\n")
    assert got[-1] == ""
    want = _row_path_lines('stage "x"', records, raws)
    assert len(got) - 1 == len(want)
    for line, expected in zip(got[:-1], want, strict=True):
        decoded = json.loads(line)  # a column a row lacks is null in the table
        decoded["row"] = {k: v for k, v in decoded["row"].items() if v is not None}
        row = {k: v for k, v in json.loads(expected)["row"].items() if v is not None}
        assert decoded == {**json.loads(expected), "row": row}


def test_reject_lines_are_byte_identical_to_the_row_paths_where_rows_agree() -> None:
    rows = [{"id": i, "text": t, "flag": bool(i % 2)} for i, t in enumerate(TRICKY)]
    records = [Record.new(row, key=i, stage="read") for i, row in enumerate(rows)]
    raws: list[object] = [None] * len(records)
    text = _columnar_lines("len", records, raws, as_json=False)
    assert text.split("\n")[:-1] == _row_path_lines("len", records, raws)


def test_jsonl_blocks_are_cut_at_line_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of a few hundred bytes, lines longer than a block and than a thread's part,
    no newline at the end: every row once, in order."""
    monkeypatch.setattr(arrow_rows, "JSON_BLOCK", 300)
    monkeypatch.setattr(arrow_rows, "JSON_THREAD_BLOCK", 100)
    rows = [{"id": i, "text": "w " * (i * 37 % 400)} for i in range(60)]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    got = [row for b in json_batches(path) for row in b.to_pylist()]
    assert got == rows
    kinds = ColumnKinds()
    assert arrow_scan(path, "jsonl", kinds) == 60


def test_a_field_first_seen_after_the_first_block_goes_row_by_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As pyarrow's streaming reader: the first block decides the columns."""
    monkeypatch.setattr(arrow_rows, "JSON_BLOCK", 200)
    lines = [json.dumps({"id": i, "text": "a b c"}) for i in range(30)]
    lines.append(json.dumps({"id": 30, "text": "x", "late": "y"}))
    path = tmp_path / "late.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert arrow_scan(path, "jsonl", ColumnKinds()) is None
