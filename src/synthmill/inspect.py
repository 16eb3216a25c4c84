"""Summarize a run directory, finished or not, for `synthmill inspect` and for tests."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

from synthmill.pipeline.rundir import RunDir
from synthmill.pipeline.stats import merge
from synthmill.records import META_COLUMN


@dataclass
class RunSummary:
    root: str
    name: str
    status: str
    attempts: int
    rows: int
    origin: dict[str, int]
    stages: dict[str, dict[str, Any]]
    config_yaml: str
    samples: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(root: Path, n_samples: int = 3) -> RunSummary:
    rd = RunDir(root)
    config_yaml = rd.config_path.read_text(encoding="utf-8")
    config = yaml.safe_load(config_yaml)
    run = rd.read_json(rd.run_json) or {}
    stats = rd.read_json(rd.stats_path)
    if stats is None or run.get("status") != "finished":
        stats = _partial_stats(rd, config)
    return RunSummary(
        root=str(root),
        name=config.get("name", "?"),
        status=run.get("status", "unknown"),
        attempts=len(run.get("attempts", [])),
        rows=stats["rows"],
        origin=stats.get("origin", {}),
        stages=stats["stages"],
        config_yaml=config_yaml,
        samples=_samples(rd, n_samples),
    )


def _partial_stats(rd: RunDir, config: dict[str, Any]) -> dict[str, Any]:
    """Stats of an unfinished run, summed from the markers written so far."""
    parts = []
    for seg in sorted((rd.root / "work").glob("seg-*")):
        marker = seg / "_SUCCESS.json"
        markers = [marker] if marker.exists() else sorted(seg.glob("shard-*.done.json"))
        parts += [json.loads(m.read_text())["stages"] for m in markers]
    labels = [s.get("name") or s["use"] for s in config["stages"]]
    stages = merge(parts, [label for label in labels if any(label in p for p in parts)])
    last = [s.rows_out for s in stages.values()][-1:] or [0]
    return {"rows": last[0], "stages": {k: v.to_dict() for k, v in stages.items()}}


def _samples(rd: RunDir, n: int) -> list[dict[str, Any]]:
    files = (
        sorted(rd.data_dir.glob("*.parquet"))
        or sorted((rd.root / "work").glob("seg-*/*.parquet"))[-1:]
    )
    rows: list[dict[str, Any]]
    if files:
        rows = pq.read_table(files[0]).slice(0, n).to_pylist()
    else:
        rows = _jsonl_head(sorted(rd.data_dir.glob("*.jsonl")), n)
    for row in rows:
        meta = row.get(META_COLUMN) or {}
        for key in ("params", "verdicts", "scores"):
            if isinstance(meta.get(key), str):
                meta[key] = json.loads(meta[key] or "{}")
    return rows


def _jsonl_head(files: list[Path], n: int) -> list[dict[str, Any]]:
    if not files or n == 0:
        return []
    with open(files[0], encoding="utf-8") as fh:
        return [dict(json.loads(line)) for _, line in zip(range(n), fh, strict=False)]
