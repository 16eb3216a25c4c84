"""Read what a report shows from a run directory (never from a Pipeline object).

A run directory holds config.yaml, run.json, stats.json, data/, rejects/, work/ and the
README.md card; a tabular run adds evaluation.json; a collapse-lab folder holds
collapse.json and one PNG per family.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from synthmill.errors import RunDirError
from synthmill.inspect import ancestors_of, decode_meta, reject_samples, summarize
from synthmill.io.rows import run_file
from synthmill.pipeline.rundir import RunDir
from synthmill.records import META_COLUMN

CELL_CHARS = 3000  # a browser cell longer than this is cut (with a note): the file stays small
RAW_CHARS = 4000  # the raw model output of a rejected row, cut beyond this


@dataclass
class RunData:
    root: Path
    name: str
    status: str
    config_yaml: str
    config: dict[str, Any]
    run: dict[str, Any]
    stats: dict[str, Any]
    stages: dict[str, dict[str, Any]]
    card: str
    table: pa.Table | None
    sample: list[dict[str, Any]] = field(default_factory=list)
    ancestors: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejects: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    evaluation: dict[str, Any] | None = None


def is_collapse_folder(root: Path) -> bool:
    return (root / "collapse.json").is_file() and not (root / "config.yaml").exists()


def load_run(root: Path, sample_rows: int, seed: int = 0) -> RunData:
    """Everything the report shows about a pipeline run, with rows sampled to `sample_rows`."""
    if not (root / "config.yaml").is_file():
        raise RunDirError(
            f"{root} is not a synthmill run directory (no config.yaml) nor a collapse-lab "
            "folder (no collapse.json); give the output.dir of a run"
        )
    summary = summarize(root, 0)
    rd = RunDir(root)
    table = read_data(root)
    sample = sample_rows_of(table, sample_rows, seed) if table is not None else []
    data = RunData(
        root=root,
        name=summary.name,
        status=summary.status,
        config_yaml=summary.config_yaml,
        config=yaml.safe_load(summary.config_yaml) or {},
        run=rd.read_json(rd.run_json) or {},
        stats=rd.read_json(rd.stats_path) or {},
        stages=summary.stages,
        card=rd.card_path.read_text(encoding="utf-8") if rd.card_path.exists() else "",
        table=table,
        sample=sample,
        rejects=_clip_rejects(reject_samples(root, per_reason=5)),
        evaluation=_evaluation(root),
    )
    data.ancestors = _ancestors(root, sample)
    return data


def read_data(root: Path) -> pa.Table | None:
    """The published rows (data/*.parquet or *.jsonl), or the last checkpoint of a live run."""
    files = sorted((root / "data").glob("*.parquet"))
    if not files:
        jsonl = sorted((root / "data").glob("*.jsonl"))
        if jsonl:
            rows = [row for f in jsonl for row in _jsonl_rows(f)]
            return pa.Table.from_pylist(rows) if rows else None
        files = sorted((root / "work").glob("seg-*/shard-*.parquet"))[-1:]
    if not files:
        return None
    tables = [_parquet_table(f) for f in files]
    return pa.concat_tables(tables, promote_options="permissive")


def _parquet_table(path: Path) -> pa.Table:
    with run_file(path):
        return pq.read_table(path)


def _jsonl_rows(path: Path) -> list[Any]:
    with run_file(path):
        return [json.loads(x) for x in path.read_text("utf-8").split("\n") if x]


def sample_rows_of(table: pa.Table, most: int, seed: int) -> list[dict[str, Any]]:
    """A seeded random sample of rows (in file order), cells cut to CELL_CHARS."""
    n = table.num_rows
    if n > most:
        picked = np.sort(np.random.default_rng(seed).choice(n, most, replace=False))
        table = table.take(pa.array(picked))
    return [_clip_row(decode_meta(r)) for r in table.to_pylist()]


def _clip_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v if k == META_COLUMN else clip(v, CELL_CHARS) for k, v in row.items()}


def clip(value: Any, most: int) -> Any:
    """A value as it is, or as text cut to `most` characters (nested values as JSON)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    if len(text) <= most:
        return value
    return text[:most] + f"… [{len(text) - most:,} more characters]"


def _clip_rejects(
    rejects: dict[str, dict[str, list[dict[str, Any]]]],
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    for by_reason in rejects.values():
        for items in by_reason.values():
            for item in items:
                item["raw"] = clip(item.get("raw"), RAW_CHARS)
                item["row"] = _clip_row(item.get("row") or {})
    return rejects


def _ancestors(root: Path, sample: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The rows the sampled rows came from, where the run still holds them (work/)."""
    return {k: _clip_row(v) for k, v in ancestors_of(root, sample).items()}


def _evaluation(root: Path) -> dict[str, Any] | None:
    """evaluation.json of a tabular run (beside the run, or where its config points)."""
    path = root / "evaluation.json"
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path} is damaged ({exc}); run the tabular synthesis again") from exc
    return value if isinstance(value, dict) else None


def read_path_of(config: dict[str, Any]) -> Path | None:
    """The file the run's `read` stage read (the real table of a tabular run), if any."""
    for stage in config.get("stages") or []:
        if isinstance(stage, dict) and stage.get("use") == "read" and stage.get("path"):
            return Path(str(stage["path"]))
    return None


def load_collapse(root: Path) -> dict[str, Any]:
    try:
        value = json.loads((root / "collapse.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{root / 'collapse.json'} is damaged ({exc})") from exc
    if not isinstance(value, dict):
        raise RunDirError(f"{root / 'collapse.json'} is not a collapse-lab result")
    return value
