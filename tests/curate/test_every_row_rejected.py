"""The file commands (filter, decontaminate, dedup) behave like `synthmill run` when their
stages reject every row: exit 1 with one line saying all N rows were rejected, why, and
how to allow it (`--allow-empty`, the pipeline's `allow_empty`); OUT is not written, the
rejects and stats are, and the input is untouched. An empty input is no such case.
Real parts: Parquet files, the real stages, the CLI in this process."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthmill.curate.benchmarks import Benchmark
from tests.helpers import cli

SHORT = ["hi there", "ok", "yes indeed"]  # too few words for the prose rules


def parquet(path: Path, texts: list[str]) -> Path:
    pq.write_table(pa.table({"text": pa.array(texts, pa.string())}), path)
    return path


def test_filter_rejecting_every_row_is_exit_1_and_writes_only_the_rejects(tmp_path: Path) -> None:
    src = parquet(tmp_path / "in.parquet", SHORT)
    before = src.read_bytes()
    out = tmp_path / "good.parquet"
    done = cli("filter", str(src), "--out", str(out))
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert errors == [
        f"error: all 3 rows of {src} were rejected (filter.quality: too few words (3)); see "
        f"{tmp_path / 'good.rejects.jsonl'}; nothing written to {out}; to write an empty "
        f"{out}, run again with --allow-empty --overwrite"
    ]
    assert not out.exists() and src.read_bytes() == before
    rejects = (tmp_path / "good.rejects.jsonl").read_text().splitlines()
    assert [json.loads(line)["reason"] for line in rejects] == ["too few words"] * 3
    stats = json.loads((tmp_path / "good.stats.json").read_text())
    assert stats["rows_in"] == 3 and stats["output"] is None and "all 3 rows" in stats["error"]

    # what the line says to do works: an empty OUT (the same columns), exit 0
    done = cli("filter", str(src), "--out", str(out), "--allow-empty", "--overwrite")
    assert done.returncode == 0, done.stderr
    assert pq.read_table(out).num_rows == 0 and src.read_bytes() == before


def test_two_filters_name_each_stage_and_reason(tmp_path: Path) -> None:
    texts = ["Der Fluss stieg nach drei Tagen Regen, und die Stadt zog den Markt hinauf.", "ok"]
    src = parquet(tmp_path / "in.parquet", texts)
    done = cli("filter", str(src), "-o", str(tmp_path / "o.jsonl"), "--language", "en")
    assert done.returncode == 1
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: all 2 rows of {src} were rejected (filter.language: ")
    assert "--allow-empty" in line and not (tmp_path / "o.jsonl").exists()


def test_decontaminate_finding_every_row_in_the_benchmark_is_exit_1(tmp_path: Path) -> None:
    prompts = [item.text for item in itertools.islice(Benchmark(name="humaneval").items(), 2)]
    src = parquet(tmp_path / "in.parquet", prompts)
    out = tmp_path / "clean.parquet"
    done = cli("decontaminate", str(src), "-o", str(out), "--benchmark", "humaneval")
    assert done.returncode == 1, done.stderr
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith(f"error: all 2 rows of {src} were rejected (decontaminate: ")
    )
    assert not out.exists()
    assert len((tmp_path / "clean.rejects.jsonl").read_text().splitlines()) == 2
    allowed = cli("decontaminate", str(src), "-o", str(out), "--allow-empty", "--overwrite")
    assert allowed.returncode == 0, allowed.stderr
    assert pq.read_table(out).num_rows == 0


@pytest.mark.parametrize("command", [["filter"], ["dedup", "--method", "exact"]])
def test_an_empty_input_is_not_every_row_rejected(tmp_path: Path, command: list[str]) -> None:
    src = parquet(tmp_path / "in.parquet", [])
    out = tmp_path / "out.parquet"
    done = cli(command[0], str(src), "-o", str(out), *command[1:])
    assert done.returncode == 0, done.stderr
    assert pq.read_table(out).num_rows == 0


def test_dedup_keeps_one_row_of_identical_rows_and_takes_allow_empty(tmp_path: Path) -> None:
    src = parquet(tmp_path / "in.parquet", ["the same words again"] * 3)
    out = tmp_path / "out.parquet"
    done = cli("dedup", str(src), "-o", str(out), "--method", "exact", "--allow-empty")
    assert done.returncode == 0, done.stderr
    assert pq.read_table(out).num_rows == 1
