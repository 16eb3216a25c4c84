"""The curation commands on real files, and the same stages inside a YAML pipeline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from synthmill.curate.benchmarks import Benchmark
from synthmill.curate.planted import corpus
from synthmill.pipeline.pipeline import Pipeline

PROSE = [
    "The river rose after three days of rain, and the town moved the market uphill.",
    "Our team shipped the new parser on Friday and fixed two bugs with the old one.",
    "Bees visit thousands of flowers a day to gather the nectar that becomes honey.",
]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "synthmill", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    docs, _ = corpus(300, [0.95], 30, seed=5)
    prompt = next(i.text for i in Benchmark(name="humaneval").items())
    rows = [{"text": t, "kind": "planted"} for t in docs]
    rows += [{"text": t, "kind": "prose"} for t in PROSE]
    rows += [{"text": "Solve this:\n" + prompt, "kind": "leak"}]
    rows += [{"text": PROSE[0], "kind": "copy"}]
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_dedup_then_decontaminate_then_filter(data: Path, tmp_path: Path) -> None:
    dd = tmp_path / "dd.parquet"
    r = cli("dedup", str(data), "--out", str(dd))
    assert r.returncode == 0, r.stderr
    kept = pq.read_table(dd).to_pylist()
    rejects = read_jsonl(tmp_path / "dd.rejects.jsonl")
    assert len(kept) + len(rejects) == 305 and len(rejects) >= 29
    ids = {row["_meta"]["id"] for row in kept}
    assert all(rej["raw"]["duplicate_of"] in ids for rej in rejects)

    dc = tmp_path / "dc.jsonl"
    r = cli("decontaminate", str(dd), "-o", str(dc), "--benchmark", "humaneval")
    assert r.returncode == 0, r.stderr
    (leak,) = read_jsonl(tmp_path / "dc.rejects.jsonl")
    assert leak["row"]["kind"] == "leak" and leak["raw"]["item"] == "HumanEval/0"
    assert "HumanEval/0" in r.stderr  # the matched-items report

    out = tmp_path / "clean.jsonl"
    r = cli("filter", str(dc), "-o", str(out), "--language", "en", "--profile", "prose")
    assert r.returncode == 0, r.stderr
    assert sorted(row["kind"] for row in read_jsonl(out)) == ["prose"] * 3
    stats = json.loads((tmp_path / "clean.stats.json").read_text())
    assert stats["rows_in"] == len(kept) - 1 and stats["rows_out"] == 3


@pytest.mark.slow
def test_cli_refuses_to_overwrite_input_and_bad_options(data: Path, tmp_path: Path) -> None:
    r = cli("dedup", str(data), "--out", str(data))
    assert r.returncode == 2 and "overwrite the input" in r.stderr
    r = cli("dedup", str(data), "--out", str(tmp_path / "x.csv"))
    assert r.returncode == 2 and ".jsonl or .parquet" in r.stderr
    r = cli("dedup", str(data), "--out", str(tmp_path / "x.jsonl"), "--threshold", "1.5")
    assert r.returncode == 2 and "threshold" in r.stderr
    exact = ["--method", "exact", "--threshold", "0.5"]
    r = cli("dedup", str(data), "--out", str(tmp_path / "e.jsonl"), *exact)
    assert r.returncode == 2 and "does not apply" in r.stderr
    assert not (tmp_path / "e.jsonl").exists()
    r = cli("filter", str(data), "--out", str(tmp_path / "y.jsonl"), "--thresholds", "{bad")
    assert r.returncode == 2 and "JSON" in r.stderr


def test_stages_in_a_yaml_pipeline_with_card(data: Path, tmp_path: Path) -> None:
    config = {
        "name": "curate-test",
        "seed": 1,
        "shard_size": 100,
        "stages": [
            {"use": "read", "path": str(data)},
            {"use": "dedup.exact"},
            {"use": "dedup.minhash", "threshold": 0.8},
            {"use": "decontaminate"},
        ],
        "output": {"dir": str(tmp_path / "run")},
    }
    result = Pipeline.from_config(config).run()
    stats = result.stats["stages"]
    assert stats["dedup.exact"]["rejected"] == {"exact duplicate": 1}
    assert stats["dedup.minhash"]["rejected"]["near duplicate"] >= 29
    assert stats["decontaminate"]["rejected"] == {"overlaps humaneval": 1}
    rejects = list((tmp_path / "run" / "rejects").rglob("*.jsonl"))
    raws = [json.loads(line)["raw"] for p in rejects for line in p.read_text().splitlines()]
    assert any("duplicate_of" in r for r in raws if r) and any("benchmark" in r for r in raws if r)
    assert (tmp_path / "run" / "README.md").exists()
