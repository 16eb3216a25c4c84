"""The columnar path gives the rows, provenance, rejects, stats and card of the row path.

SYNTHMILL_ROW_PATH=1 forces one Record per row; the same pipeline runs both ways and the
outputs are compared whole. A kill -9 mid-run on the columnar path resumes to the clean rows.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthmill import Pipeline
from synthmill.curate.exact_dedup import ExactDedup
from synthmill.curate.length import LengthFilter
from synthmill.curate.minhash_dedup import MinHashDedup
from synthmill.pipeline import columnar
from synthmill.pipeline.stage import Check
from tests.conftest import REPO
from tests.pipeline.columnar_stages import OddLength, Upper

WORDS = ["alpha", "Beta", "gamma", "délta", "ε", "zeta", "Ünïcode", "x"]
ASCII_WORDS = ["alpha", "Beta", "gamma", "delta", "x\x0by", "zeta", "a\x1cb", "x"]


def corpus(path: Path, n: int = 400, seed: int = 5, words: list[str] = WORDS) -> Path:
    """JSONL with ids, repeats differing in case and spaces, short rows, unicode, a flag."""
    rng = random.Random(seed)
    texts: list[str] = []
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            if texts and rng.random() < 0.3:
                text = rng.choice(texts)
                text = text.upper() if rng.random() < 0.5 else "  " + text.replace(" ", "\t ")
            else:
                text = " ".join(rng.choices(words, k=rng.randint(1, 9)))
                texts.append(text)
            row: dict[str, Any] = {"id": f"r{i}", "text": text, "flag": i % 3 == 0}
            if i % 7 == 0:
                del row["flag"]  # a key some rows lack
            fh.write(json.dumps(row, ensure_ascii=i % 2 == 0) + "\n")
    return path


def run(tmp: Path, name: str, stages: list[dict[str, Any]], rows: bool, **kw: Any) -> Path:
    """Run the pipeline into tmp/name, on the row path when `rows`."""
    config = {"name": "columnar", "seed": 3, "shard_size": 37, "cache": False, **kw}
    config |= {"stages": stages, "output": {"dir": str(tmp / name)}}
    old = os.environ.pop(columnar.ROW_PATH_ENV, None)
    if rows:
        os.environ[columnar.ROW_PATH_ENV] = "1"
    try:
        Pipeline.from_config(config).run()
    finally:
        os.environ.pop(columnar.ROW_PATH_ENV, None)
        if old is not None:
            os.environ[columnar.ROW_PATH_ENV] = old
    return tmp / name


def published(run_dir: Path) -> list[dict[str, Any]]:
    files = sorted((run_dir / "data").glob("*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def rejects(run_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Each rejects file's lines. A key a JSONL row lacks reads as null on the columnar
    path (as in the published data), so null row values are left out of the comparison."""
    out = {}
    for path in sorted((run_dir / "rejects").rglob("*.jsonl")):
        text = path.read_text(encoding="utf-8")  # split at "\n" only: a text may hold U+2028
        lines = [json.loads(line) for line in text.split("\n") if line]
        for line in lines:
            line["row"] = {k: v for k, v in line["row"].items() if v is not None}
        out[str(path.relative_to(run_dir))] = lines
    return out


def stage_stats(run_dir: Path) -> dict[str, Any]:
    stats = json.loads((run_dir / "stats.json").read_text())["stages"]
    keep = ("rows_in", "rows_out", "rejected", "rejected_transient", "batches", "counters")
    return {label: {k: s[k] for k in keep} for label, s in stats.items()}


def card(run_dir: Path) -> list[str]:
    """The card's lines, less the stage seconds column and the output folder."""
    lines = (run_dir / "README.md").read_text(encoding="utf-8").splitlines()
    out = []
    for line in lines:
        if line.startswith("| ") and line.count("|") > 6:
            line = "|".join(line.split("|")[:-2])  # drop the seconds cell
        out.append(line.replace(str(run_dir), "RUN"))
    return out


def assert_same(a: Path, b: Path) -> None:
    rows = published(a)
    assert rows and rows == published(b)
    assert rejects(a) == rejects(b)
    assert stage_stats(a) == stage_stats(b)
    assert card(a) == card(b)


CURATE = [
    {"use": "filter.length", "min_words": 2, "max_chars": 60},
    {"use": "dedup.exact", "id_column": "id"},
    {"use": "dedup.minhash", "threshold": 0.5, "shingle_size": 2},
]


@pytest.mark.parametrize("words", [WORDS, ASCII_WORDS], ids=["unicode", "ascii"])
def test_the_columnar_path_gives_the_rows_provenance_rejects_and_card_of_the_row_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, words: list[str]
) -> None:
    """Unicode text, and ASCII text with the odd whitespace str.split() knows (\\x0b, \\x1c)."""
    src = corpus(tmp_path / "in.jsonl", words=words)
    stages = [{"use": "read", "path": str(src)}, *CURATE]
    slow = run(tmp_path, "rows", stages, rows=True)

    def no_rows(*args: Any) -> Any:
        raise AssertionError("a row-wise method ran on the columnar path")

    monkeypatch.setattr(LengthFilter, "check", no_rows)
    monkeypatch.setattr(ExactDedup, "key", no_rows)
    monkeypatch.setattr(MinHashDedup, "_texts", no_rows)
    fast = run(tmp_path, "columns", stages, rows=False)
    assert_same(fast, slow)
    stats = stage_stats(fast)
    assert all(stats[s]["rejected"] for s in ("filter.length", "dedup.exact", "dedup.minhash"))
    first = published(fast)[0]["_meta"]
    assert json.loads(first["verdicts"])["filter.length"]["ok"] is True
    assert json.loads(first["scores"])["filter.length"] == len(published(fast)[0]["text"])
    dup = rejects(fast)["rejects/dedup.exact/seg-01-shard-00000.jsonl"][0]
    assert dup["raw"]["duplicate_of"].startswith("r")  # the id column names the kept row


def test_row_wise_stages_between_columnar_ones_and_a_parquet_input(tmp_path: Path) -> None:
    """Tables become records only for the row-wise stages (a user map, a check subclass
    that overrides check()); a Parquet input and a columnar user stage give the same too."""
    src = corpus(tmp_path / "in.jsonl", seed=9)
    pq.write_table(_as_parquet(src), tmp_path / "in.parquet")
    for path in (src, tmp_path / "in.parquet"):
        stages = [
            {"use": "read", "path": str(path)},
            {"use": "tests.pipeline.columnar_stages:Upper"},
            {"use": "filter.length", "min_words": 2},
            {"use": "map", "function": "tests.pipeline.steps:tag"},
            {"use": "tests.pipeline.columnar_stages:OddLength"},
            {"use": "filter.length", "name": "short", "max_words": 7},
            {"use": "dedup.exact"},
            {"use": "tests.pipeline.columnar_stages:Upper", "name": "again"},
        ]
        name = path.suffix[1:]
        assert_same(run(tmp_path, name, stages, False), run(tmp_path, f"{name}-rows", stages, True))
    assert not columnar.columnar_step(OddLength())
    assert columnar.columnar_step(Upper()) and columnar.columnar_step(LengthFilter())


def _as_parquet(src: Path) -> Any:
    rows = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines()]
    return pa.Table.from_pylist(rows)


def test_a_check_without_a_columnar_form_stays_row_wise() -> None:
    class Plain(Check):
        pass

    assert not columnar.columnar_step(Plain())
    os.environ[columnar.ROW_PATH_ENV] = "1"
    try:
        assert not columnar.columnar_step(LengthFilter())
    finally:
        del os.environ[columnar.ROW_PATH_ENV]


def test_input_the_columnar_reader_cannot_take_as_is_goes_row_by_row(tmp_path: Path) -> None:
    """Dates pyarrow would parse, nested objects and floats in JSON: read row by row, so
    the values are the row path's (a date stays a string)."""
    src = tmp_path / "weird.jsonl"
    lines = [
        {"id": 1, "text": "one two three", "when": "2020-01-01", "n": 1.5, "tags": {"a": 1}},
        {"id": 2, "text": "four five six", "when": "2021-02-03", "n": 2, "tags": {"a": 2}},
        {"id": 3, "text": "One  two three", "when": "2021-02-03", "n": 2, "tags": {"a": 2}},
    ]
    src.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    stages = [{"use": "read", "path": str(src)}, *CURATE]
    fast = run(tmp_path, "odd", stages, rows=False)
    assert published(fast)[0]["when"] == "2020-01-01"
    assert_same(fast, run(tmp_path, "odd-rows", stages, rows=True))


CLI = [sys.executable, "-m", "synthmill"]


def markers(run_dir: Path) -> dict[str, tuple[int, int]]:
    found = sorted((run_dir / "work").glob("seg-*/*.done.json"))
    return {str(p.relative_to(run_dir)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in found}


@pytest.mark.slow
def test_kill_9_mid_run_on_the_columnar_path_resumes_to_the_clean_rows(tmp_path: Path) -> None:
    src = corpus(tmp_path / "in.jsonl", n=1200, seed=1)
    stages = [
        {"use": "read", "path": str(src)},
        {"use": "tests.pipeline.columnar_stages:Upper"},
        *CURATE,
    ]
    clean = run(tmp_path, "clean", stages, rows=True)
    config = {"name": "columnar", "seed": 3, "shard_size": 37, "cache": False}
    config |= {"stages": stages, "output": {"dir": str(tmp_path / "killed")}}
    cfg = tmp_path / "killed.json"
    cfg.write_text(json.dumps(config))
    env = {**os.environ, "PYTHONPATH": str(REPO), "SYNTHMILL_TEST_SLEEP": "0.04"}
    env.pop(columnar.ROW_PATH_ENV, None)
    run_dir = tmp_path / "killed"
    seen: dict[str, tuple[int, int]] = {}
    kills = 0
    for target in (3, 12, 22):
        proc = subprocess.Popen(
            [*CLI, "run", str(cfg)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        while proc.poll() is None and len(markers(run_dir)) < target:
            time.sleep(0.01)
        time.sleep(0.3)  # inside a commit group: some shards written, not yet committed
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        now = markers(run_dir)
        assert {k: now[k] for k in seen} == seen, "a finished shard was written again"
        seen = now
    assert kills >= 2
    done = subprocess.run([*CLI, "run", str(cfg)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert published(run_dir) == published(clean)
    assert rejects(run_dir) == rejects(clean)
    assert stage_stats(run_dir) == stage_stats(clean)
    assert not list(run_dir.rglob(".*.tmp")), "temp files left behind"


def rejects_by_stage(run_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Each stage's rejects lines, all shards in order (shards may be cut differently)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for key, lines in rejects(run_dir).items():
        out.setdefault(str(Path(key).parent), []).extend(lines)
    return out


def counts(run_dir: Path) -> dict[str, Any]:
    """stage_stats less the batch count, which follows the shard layout."""
    return {
        k: {n: v for n, v in s.items() if n != "batches"} for k, s in stage_stats(run_dir).items()
    }


def test_default_shards_of_whole_table_segments_are_large_and_resume_in_their_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With shard_size unset, a segment of whole-table stages is cut into shards of about
    BULK_BYTES (at least 1000 rows); the layout is recorded, so a resume on the row path
    redoes the missing shards with the same rows, and the global stage's output follows."""
    from synthmill.pipeline import shards

    src = corpus(tmp_path / "in.jsonl", n=5000, seed=2)
    stages = [{"use": "read", "path": str(src)}, *CURATE[:2]]
    config = {"name": "bulk", "seed": 3, "cache": False, "stages": stages}

    def go(name: str, rows: bool) -> Path:
        env = {columnar.ROW_PATH_ENV: "1"} if rows else {}
        with monkeypatch.context() as m:
            for k, v in env.items():
                m.setenv(k, v)
            if not rows:
                m.delenv(columnar.ROW_PATH_ENV, raising=False)
            Pipeline.from_config({**config, "output": {"dir": str(tmp_path / name)}}).run()
        return tmp_path / name

    slow = go("rows", rows=True)
    assert len(list((slow / "work/seg-00").glob("*.done.json"))) == 5  # 1000 rows each
    monkeypatch.setattr(shards, "BULK_BYTES", 200_000)
    fast = go("columns", rows=False)
    seg0 = fast / "work/seg-00"
    layout = json.loads((seg0 / "_layout.json").read_text())
    assert 1000 < layout["shard_rows"] < 2500
    n = -(-5000 // layout["shard_rows"])
    assert sorted(p.name for p in seg0.glob("*.done.json")) == [
        f"shard-{i:05d}.done.json" for i in range(n)
    ]
    assert published(fast) == published(slow)
    assert rejects_by_stage(fast) == rejects_by_stage(slow)
    assert counts(fast) == counts(slow)
    # an interrupted run: the last shards of segment 0 and everything after them are gone
    kept = {p: p.stat().st_mtime_ns for p in seg0.glob("shard-00000.*")}
    for i in range(1, n):
        (seg0 / f"shard-{i:05d}.done.json").unlink()
    (seg0 / "_SUCCESS.json").unlink()
    for later in (fast / "work").glob("seg-0[1-9]"):
        for f in later.iterdir():
            f.unlink()
        later.rmdir()
    monkeypatch.setattr(shards, "BULK_BYTES", 8 << 20)  # another size: the recorded one wins
    go("columns", rows=True)
    assert {p: p.stat().st_mtime_ns for p in seg0.glob("shard-00000.*")} == kept
    assert len(list(seg0.glob("*.done.json"))) == n
    assert published(fast) == published(slow)
    assert rejects_by_stage(fast) == rejects_by_stage(slow)
    assert counts(fast) == counts(slow)
