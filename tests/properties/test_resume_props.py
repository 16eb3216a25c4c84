"""Property tests of the engine (Hypothesis): for any shard size and any stopping point,
a resumed run publishes the rows of a clean run; every stage's stats balance; every
row's provenance reaches a source row.

The run is stopped in-process by an exception planted at one (stage, shard), which leaves
the run directory exactly as a crash there would; tests/pipeline/test_resume.py and
tests/recipes/test_recipes_fake.py kill real processes with SIGKILL.
"""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from synthmill import Pipeline
from synthmill.errors import RunFailedError
from synthmill.io.records_io import read_records
from synthmill.pipeline.stage import StageContext
from synthmill.sources.range import Range

STEPS = "tests.pipeline.shard_steps"
# Stages where a failure can be planted: before the global stage, and after it.
FAIL_POINTS = ["fail-early", "fail-late"]


def config(out: Path, n: int, shard_size: int, seed: int) -> dict[str, Any]:
    return {
        "name": "prop",
        "seed": seed,
        "shard_size": shard_size,
        # these properties hold for every n, also for a tiny run whose rows all fail the
        # filters (n=1: a one-word text), which publishes only with allow_empty (exit 1
        # without it: tests/pipeline/test_empty_run.py)
        "allow_empty": True,
        "stages": [
            {"use": "range", "n": n},
            {"use": "map", "function": f"{STEPS}:words"},
            {"use": "map", "function": f"{STEPS}:fail_at", "name": "fail-early"},
            {"use": "map", "function": f"{STEPS}:split"},
            {"use": "filter.length", "min_words": 2},
            {"use": "dedup.exact"},
            {"use": "map", "function": f"{STEPS}:fail_at", "name": "fail-late"},
            {"use": "map", "function": f"{STEPS}:drop_some"},
        ],
        "output": {"dir": str(out)},
    }


@contextmanager
def scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="synthmill-prop-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def published(root: Path) -> list[dict[str, Any]]:
    files = sorted((root / "data").glob("*.parquet"))
    return [r.to_row() for f in files for r in read_records(f)]


def stable_stats(root: Path) -> dict[str, Any]:
    """stats.json without the parts that measure time."""
    stats = json.loads((root / "stats.json").read_text())
    stats.pop("published")
    for s in stats["stages"].values():
        s.pop("seconds")
        s.pop("wall_seconds")
        s.pop("batches")
    return stats


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(0, 30),
    shard_size=st.integers(1, 8),
    seed=st.integers(0, 3),
    label=st.sampled_from(FAIL_POINTS),
    where=st.floats(0, 1, exclude_max=True),
)
def test_resume_after_a_stop_anywhere_equals_a_clean_run(
    monkeypatch: pytest.MonkeyPatch, n: int, shard_size: int, seed: int, label: str, where: float
) -> None:
    """Stop at shard floor(where x shards) of a stage before or after the global stage."""
    with scratch() as tmp:
        clean = Pipeline.from_config(config(tmp / "clean", n, shard_size, seed)).run()
        reaching = clean.stats["stages"][label]["rows_in"]
        shards = -(-reaching // shard_size)
        cfg = config(tmp / "stopped", n, shard_size, seed)
        monkeypatch.setenv("SYNTHMILL_TEST_FAIL_AT", f"{label}@{int(where * shards)}")
        try:
            Pipeline.from_config(cfg).run()
            stopped = False
        except RunFailedError as exc:
            assert "planted failure" in str(exc)
            stopped = True
        monkeypatch.delenv("SYNTHMILL_TEST_FAIL_AT")
        assert stopped == (shards > 0)
        if stopped:
            status = json.loads((tmp / "stopped" / "run.json").read_text())["status"]
            assert status == "failed"
            assert not (tmp / "stopped" / "data").exists()
        resumed = Pipeline.from_config(cfg).run()
        assert published(resumed.root) == published(clean.root)
        assert stable_stats(resumed.root) == stable_stats(clean.root)
        assert not list(resumed.root.rglob(".*.tmp"))


def rejects(root: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in (root / "rejects").rglob("*.jsonl") if (root / "rejects").exists() else []:
        for line in f.read_text().splitlines():
            label = json.loads(line)["stage"]
            counts[label] = counts.get(label, 0) + 1
    return counts


@settings(max_examples=8, deadline=None)
@given(n=st.integers(0, 40), shard_size=st.integers(1, 12), seed=st.integers(0, 5))
def test_stats_balance_for_every_stage(n: int, shard_size: int, seed: int) -> None:
    """rows in = rows out + rejects for each 1:1 stage; each stage's rows in are the rows
    out of the stage before; split's extra rows are the rows with a second part; the
    rejects files hold as many rows as stats count; data/ holds the last rows out."""
    with scratch() as tmp:
        result = Pipeline.from_config(config(tmp / "run", n, shard_size, seed)).run()
        stages = result.stats["stages"]
        labels = list(stages)
        assert stages[labels[0]]["rows_out"] == n
        for before, after in itertools.pairwise(labels):
            assert stages[after]["rows_in"] == stages[before]["rows_out"], after
        for label, s in stages.items():
            assert s["rejected_total"] == sum(s["rejected"].values())
            if label != "split":
                assert s["rows_in"] == s["rows_out"] + s["rejected_total"], label
        assert stages["split"]["rows_out"] == n + sum(i % 2 for i in range(n))
        on_disk = rejects(result.root)
        assert on_disk == {k: s["rejected_total"] for k, s in stages.items() if s["rejected_total"]}
        assert result.rows == stages[labels[-1]]["rows_out"] == len(published(result.root))


@settings(max_examples=6, deadline=None)
@given(n=st.integers(1, 30), shard_size=st.integers(1, 9), seed=st.integers(0, 3))
@example(n=30, shard_size=4, seed=0)  # one run that surely publishes rows
@example(n=1, shard_size=1, seed=1)  # one that publishes none (its one-word text is filtered)
def test_every_row_traces_back_to_a_source_row(n: int, shard_size: int, seed: int) -> None:
    """Follow `parents` from each published row (through checkpointed shards and rejects):
    the chain always ends at rows the source made, and never at an unknown id."""
    with scratch() as tmp:
        result = Pipeline.from_config(config(tmp / "run", n, shard_size, seed)).run()
        source = {r.meta.id for r in Range(n=n).rows(StageContext(seed=seed, stage="range"))}
        known: dict[str, tuple[str, ...]] = {i: () for i in source}
        for f in (result.root / "work").rglob("shard-*.parquet"):
            known.update({r.meta.id: r.meta.parents for r in read_records(f)})
        rows = published(result.root)
        assert len(rows) == result.rows
        # a tiny run may lose every row to the filters (n=1: a one-word text); this one may not
        assert rows or (n, shard_size, seed) != (30, 4, 0)
        for row in rows:
            frontier, steps = [row["_meta"]["id"]], 0
            while frontier:
                rid = frontier.pop()
                assert rid in known, f"parent {rid} is no row of the run"
                parents = known[rid]
                assert parents or rid in source, f"{rid} has no parents and is no source row"
                frontier += parents
                steps += 1
                assert steps < 100, "a provenance cycle"
            assert row["_meta"]["origin"] in ("real", "synthetic")
