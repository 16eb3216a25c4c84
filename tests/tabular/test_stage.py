"""`tabular.synthesize` as a pipeline stage: YAML config, typed Parquet in, provenance out."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthmill.errors import DataError, SynthmillError
from synthmill.pipeline.pipeline import Pipeline
from synthmill.pipeline.registry import stage_names
from synthmill.records import Record
from synthmill.tabular.stage import records_table
from tests.tabular.conftest import mixed_table


def pipeline(src: Path, out: Path, **options: object) -> Pipeline:
    stage = {"use": "tabular.synthesize", "method": "copula", **options}
    return Pipeline.from_config(
        {
            "name": "t",
            "seed": 4,
            "stages": [{"use": "read", "path": str(src)}, stage],
            "output": {"dir": str(out)},
        }
    )


@pytest.mark.slow
def test_a_yaml_pipeline_synthesizes_typed_parquet(tmp_path: Path) -> None:
    assert "tabular.synthesize" in stage_names()
    src = tmp_path / "real.parquet"
    pq.write_table(mixed_table(600), src)
    report = tmp_path / "evaluation.json"
    result = pipeline(
        src, tmp_path / "run", rows=450, target="label", holdout=0.25, evaluation=str(report)
    ).run()
    assert result.rows == 450
    data = pq.read_table(next((tmp_path / "run" / "data").glob("*.parquet")))
    assert pa.types.is_timestamp(data.schema.field("joined").type)
    assert data.schema.field("member").type == pa.bool_()
    assert data.schema.field("age").type == pa.int64()
    assert {m["origin"] for m in data.column("_meta").to_pylist()} == {"synthetic"}
    ev = json.loads(report.read_text(encoding="utf-8"))["evaluation"]
    assert ev["rows"] == {"train": 450, "synthetic": 450, "holdout": 150}
    summary = result.stats["stages"]["tabular.synthesize"]["summary"]
    assert float(summary["fidelity"]["score"]) > 0.8 and "column joined" in summary
    counters = result.stats["stages"]["tabular.synthesize"]["counters"]
    assert counters == {"real rows held out": 150, "real rows trained on": 450}


def test_text_columns_from_csv_rows_are_typed() -> None:
    rows = [
        {"n": str(i), "x": f"{i / 3:.3f}", "when": f"2024-01-0{1 + i % 9}", "c": "a"}
        for i in range(20)
    ]
    rows[3]["n"] = ""  # an empty CSV cell is missing, not text
    table = records_table(Record.new(r, key=i, stage="read") for i, r in enumerate(rows))
    assert table.schema.field("n").type == pa.int64() and table.column("n").null_count == 1
    assert table.schema.field("x").type == pa.float64()
    assert pa.types.is_timestamp(table.schema.field("when").type)
    assert table.schema.field("c").type == pa.string()


def test_mixed_json_types_in_one_column_are_one_line(tmp_path: Path) -> None:
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps({"a": v, "b": i}) + "\n" for i, v in enumerate([1, "x", 2])))
    with pytest.raises(SynthmillError, match="one type"):
        pipeline(src, tmp_path / "run").run()


def test_an_unknown_target_in_a_pipeline_is_a_data_error(tmp_path: Path) -> None:
    src = tmp_path / "real.parquet"
    pq.write_table(mixed_table(100), src)
    with pytest.raises(DataError, match="'nope' is not a column"):
        pipeline(src, tmp_path / "run", target="nope").run()
