"""Published files are right-sized (issue 17): shards of 1,000 rows become a few files of
about output.file_rows rows (or output.file_mb MiB), named train-NNNNN-of-NNNNN, that
`datasets.load_dataset` reads; the rows and their order are those of the shards."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthmill import Pipeline
from synthmill.export.rundata import RunData
from synthmill.inspect import find_rows, summarize
from synthmill.io.records_io import META_TYPE
from synthmill.pipeline.pipeline import Output
from synthmill.pipeline.publish import ROW_GROUP_BYTES, _write_data, plan_layout
from synthmill.records import META_COLUMN
from tests.helpers import curation_config


def test_plan_layout_keeps_both_limits_and_cuts_evenly() -> None:
    by_rows = plan_layout(500_000, 500_000 * 40, file_rows=100_000, file_mb=256)
    assert (by_rows.files, by_rows.per_file) == (5, 100_000)
    assert by_rows.group == 100_000  # 4 MB a file: one row group
    # 1,000 rows of 1 MiB: 256 MiB a file at most, row groups of 64 MiB
    by_bytes = plan_layout(1000, 1000 << 20, file_rows=100_000, file_mb=256)
    assert by_bytes.group == ROW_GROUP_BYTES >> 20
    assert by_bytes.per_file <= 256 and by_bytes.per_file % by_bytes.group == 0
    assert by_bytes.files * by_bytes.per_file >= 1000 > (by_bytes.files - 1) * by_bytes.per_file
    odd = plan_layout(100_001, 100_001, file_rows=100_000, file_mb=256)
    assert (odd.files, odd.per_file) == (2, 50_001)  # two even files, not 100,000 + 1
    assert plan_layout(0, 0, 100, 1).files == 0


def _shard(start: int, n: int) -> pa.Table:
    """A shard as the runner writes it (data columns, then `_meta`), built column-wise."""
    ids = [f"r{i}" for i in range(start, start + n)]
    meta = pa.StructArray.from_arrays(
        [
            pa.array(ids),
            pa.array([[]] * n, pa.list_(pa.string())),
            pa.array(["read"] * n),
            pa.array(["real" if i % 5 else "synthetic" for i in range(start, start + n)]),
            pa.array([0] * n, pa.int64()),
            *(pa.nulls(n, pa.string()) for _ in range(6)),
        ],
        fields=list(META_TYPE),
    )
    text = pa.array([f"row {i}" for i in range(start, start + n)])
    return pa.table({"n": pa.array(range(start, start + n)), "text": text, META_COLUMN: meta})


@pytest.mark.slow
def test_500k_rows_in_1000_row_shards_publish_as_5_files_load_dataset_reads(
    tmp_path: Path,
) -> None:
    shards = []
    for i in range(500):
        shards.append(tmp_path / "work" / f"shard-{i:05d}.parquet")
        shards[-1].parent.mkdir(exist_ok=True)
        pq.write_table(_shard(i * 1000, 1000), shards[-1])
    written = _write_data(tmp_path / "data", shards, Output(dir=tmp_path))
    names = sorted(p.name for p in (tmp_path / "data").iterdir())
    assert names == [f"train-{i:05d}-of-00005.parquet" for i in range(5)]
    assert written.rows == 500_000 and written.origin == {"real": 400_000, "synthetic": 100_000}
    for path in written.files:
        meta = pq.ParquetFile(path).metadata
        assert (meta.num_rows, meta.num_row_groups) == (100_000, 1)
    files = [str(p) for p in written.files]
    ds = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=tmp_path)
    assert ds.num_rows == 500_000
    assert ds[0]["n"] == 0 and ds[499_999]["n"] == 499_999  # the shards' order
    assert ds[123_456]["_meta"]["id"] == "r123456"


def _run(tmp_path: Path, overrides: dict[str, object]) -> Pipeline:
    return Pipeline.from_config(curation_config(tmp_path, "layout", 6000, 100, overrides))


@pytest.mark.slow
def test_a_run_publishes_few_files_and_a_relayout_resumes_with_the_same_rows(
    tmp_path: Path,
) -> None:
    """60 work shards of 100 rows; 1,800 rows in 3 files; a rerun with another file size is
    a resume (file size is outside the fingerprint) that re-cuts the same rows."""
    result = _run(tmp_path, {"file_rows": 700}).run()
    data = result.root / "data"
    shards = list((result.root / "work").rglob("shard-*.parquet"))
    assert len(shards) > 30  # work shards stay small for resume
    names = sorted(p.name for p in data.iterdir())
    assert names == [f"train-{i:05d}-of-00003.parquet" for i in range(3)]
    stats = json.loads((result.root / "stats.json").read_text())
    assert stats["files"] == [f"data/{n}" for n in names] and stats["rows"] == result.rows
    lines = (tmp_path / "rows.jsonl").read_text().splitlines()
    texts = {json.loads(x)["text"] for x in lines}
    assert result.rows == len({t for t in texts if len(t.split()) >= 2})
    before = pq.read_table(data).to_pylist()
    assert len({r["text"] for r in before}) == len(before) == result.rows
    assert f"{result.rows} rows" in (result.root / "README.md").read_text()
    assert RunData.open(result.root).count() == result.rows  # export reads data/
    assert summarize(result.root).rows == result.rows  # inspect too
    last = before[-1][META_COLUMN]["id"]
    assert find_rows(result.root, {last})[last]["text"] == before[-1]["text"]

    again = _run(tmp_path, {"file_rows": 100_000}).run()  # no --overwrite: a resume
    assert again.rows == result.rows
    assert sorted(p.name for p in data.iterdir()) == ["train-00000-of-00001.parquet"]
    assert pq.read_table(data).to_pylist() == before
