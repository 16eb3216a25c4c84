"""Summarize a run directory, finished or not, for `synthmill inspect` and for tests."""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

from synthmill.errors import DataError, RunDirError
from synthmill.io.rows import run_file
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
    error: str | None = None  # why a failed or interrupted run stopped

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(root: Path, n_samples: int = 3) -> RunSummary:
    rd = RunDir(root)
    config_yaml, config = _config(rd)
    run = rd.read_json(rd.run_json) or {}
    stats = rd.read_json(rd.stats_path)
    if stats is None or run.get("status") != "finished":
        stats = _partial_stats(rd, config)
    status, error = run_status(rd, run)
    return RunSummary(
        root=str(root),
        name=config.get("name", "?"),
        status=status,
        attempts=len(run.get("attempts", [])),
        rows=stats["rows"],
        origin=stats.get("origin", {}),
        stages=stats["stages"],
        config_yaml=config_yaml,
        samples=_samples(rd, n_samples),
        error=error,
    )


def _config(rd: RunDir) -> tuple[str, dict[str, Any]]:
    """The run's config.yaml as text and as a mapping; a damaged one is one line (exit 2)."""
    try:
        text = rd.config_path.read_text(encoding="utf-8")
        config = yaml.safe_load(text)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        config, why = None, type(exc).__name__
    else:
        why = "not a pipeline config"
    if not isinstance(config, dict) or not isinstance(config.get("stages"), list):
        raise RunDirError(
            f"{rd.config_path} is damaged ({why}); restore it, or run the pipeline again "
            "with --overwrite"
        )
    return text, config


def run_status(rd: RunDir, run: dict[str, Any]) -> tuple[str, str | None]:
    """(status, why it stopped): `running` only while a process holds the run's lock.

    run.json says `running` from the start of an attempt; a run killed outright (kill -9,
    power loss) cannot change that, so without a lock holder it is `interrupted`.
    """
    status = str(run.get("status", "unknown"))
    last = (run.get("attempts") or [{}])[-1]
    error = last.get("error") if status in ("failed", "interrupted") else None
    if status == "running" and not rd.is_locked():
        status, error = "interrupted", "killed before it finished (no process holds its lock)"
    return status, error


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
        with run_file(files[0]):
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
    with run_file(files[0]), open(files[0], encoding="utf-8") as fh:
        return [dict(json.loads(line)) for _, line in zip(range(n), fh, strict=False)]


# ---- rejected rows and provenance: shared by `inspect --rejects/--row` and the report ----------
def reject_samples(
    root: Path, stage: str | None = None, per_reason: int = 3
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """A few rejected rows per stage and reason (stage -> reason -> rows), read from rejects/.

    Reading stops at a file's end or once every reason seen has `per_reason` rows, so a
    run with millions of rejects still answers quickly for the reasons that come first.
    """
    folder = root / "rejects"
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    if not folder.is_dir():
        return out
    counts = _reject_counts(root)
    for stage_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        if stage is not None and stage_dir.name != _safe(stage):
            continue
        found: dict[str, list[dict[str, Any]]] = {}
        expected = counts.get(stage_dir.name, {})
        for path in sorted(stage_dir.glob("*.jsonl")):
            _take_rejects(path, found, per_reason)
            if expected and all(
                len(found.get(r, [])) >= min(n, per_reason) for r, n in expected.items()
            ):
                break  # every reason the stats know has its examples
        if found:
            label = next(iter(found.values()))[0].get("stage") or stage_dir.name
            out[str(label)] = found
    return out


def _reject_counts(root: Path) -> dict[str, dict[str, int]]:
    """Rejected rows per stage folder name and reason, from stats.json (empty if none)."""
    try:
        stats = json.loads((root / "stats.json").read_text(encoding="utf-8"))
        stages = stats["stages"].items()
        return {_safe(k): dict(v.get("rejected") or {}) for k, v in stages}
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        return {}


def _safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label)


def _take_rejects(path: Path, found: dict[str, list[dict[str, Any]]], most: int) -> None:
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill mid-write
            if not isinstance(item, dict):
                continue
            bucket = found.setdefault(str(item.get("reason") or "?"), [])
            if len(bucket) < most:
                bucket.append(item)


def decode_meta(row: dict[str, Any]) -> dict[str, Any]:
    """A row with its `_meta` params, verdicts and scores parsed from their JSON strings."""
    meta = row.get(META_COLUMN)
    if isinstance(meta, dict):
        for key in ("params", "verdicts", "scores"):
            if isinstance(meta.get(key), str):
                with contextlib.suppress(json.JSONDecodeError):
                    meta[key] = json.loads(meta[key] or "{}")
    return row


def row_files(root: Path) -> list[Path]:
    """Every file of rows in a run: the published data first, then checkpointed shards."""
    data = sorted((root / "data").glob("*.parquet")) + sorted((root / "data").glob("*.jsonl"))
    return data + sorted((root / "work").glob("seg-*/shard-*.parquet"))


def find_rows(root: Path, ids: set[str]) -> dict[str, dict[str, Any]]:
    """The rows of a run with these `_meta.id`s (published data or checkpoints), by id."""
    found: dict[str, dict[str, Any]] = {}
    for path in row_files(root):
        wanted = ids - set(found)
        if not wanted:
            break
        with run_file(path):
            rows = _rows_with_ids(path, wanted)
        for row in rows:
            found.setdefault(str(row[META_COLUMN]["id"]), decode_meta(row))
    return found


def _rows_with_ids(path: Path, ids: set[str]) -> list[dict[str, Any]]:
    if path.suffix == ".jsonl":
        with open(path, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        return [r for r in rows if str((r.get(META_COLUMN) or {}).get("id")) in ids]
    import pyarrow as pa
    import pyarrow.compute as pc

    if META_COLUMN not in pq.read_schema(path).names:
        return []
    meta = pq.read_table(path, columns=[META_COLUMN]).column(META_COLUMN)
    mask = pc.is_in(pc.struct_field(meta, "id"), value_set=pa.array(sorted(ids), pa.string()))
    if not pc.any(mask).as_py():  # read the whole shard only when it holds a wanted row
        return []
    return list(pq.read_table(path).filter(mask).to_pylist())


def provenance_chain(root: Path, row: dict[str, Any], depth: int = 6) -> dict[str, dict[str, Any]]:
    """The ancestors of a row that are in the run, by id, following parents `depth` levels."""
    return ancestors_of(root, [row], depth)


def ancestors_of(
    root: Path, rows: list[dict[str, Any]], depth: int = 6
) -> dict[str, dict[str, Any]]:
    """The ancestors of many rows at once (one pass over the run's files per level)."""
    chain: dict[str, dict[str, Any]] = {}
    frontier = {p for row in rows for p in _parents(row)}
    for _ in range(depth):
        frontier -= set(chain)
        if not frontier:
            break
        found = find_rows(root, frontier)
        chain |= found
        frontier = {p for r in found.values() for p in _parents(r)}
    return chain


def _parents(row: dict[str, Any]) -> list[str]:
    return [str(p) for p in (row.get(META_COLUMN) or {}).get("parents") or []]


def row_with_id(root: Path, row_id: str) -> dict[str, Any]:
    """One row of a run by its `_meta.id`: published, checkpointed, or rejected (with why)."""
    found = find_rows(root, {row_id}).get(row_id)
    if found is not None:
        return found
    for path in sorted((root / "rejects").glob("*/*.jsonl")):
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if row_id not in line:
                    continue
                item = json.loads(line)
                if str((item.get(META_COLUMN) or {}).get("id")) == row_id:
                    row = dict(item.get("row") or {})
                    row[META_COLUMN] = item[META_COLUMN]
                    row["_rejected"] = {k: item.get(k) for k in ("stage", "reason", "raw")}
                    return row
    raise DataError(
        f"no row with id {row_id!r} in {root} (data/, work/ or rejects/); "
        "ids are the _meta.id values that `synthmill inspect` shows"
    )
