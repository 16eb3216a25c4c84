"""The run directory: config, versions, checkpoints, rejects, stats, data and card.

RUN_DIR/
  config.yaml        the resolved config that made this run
  run.json           versions, seed, fingerprint, status, attempts
  work/seg-KK/       checkpointed shards of each segment, with .done.json markers
  rejects/STAGE/     one JSONL per shard: reason, raw payload, the row and its meta
  data/              the dataset (train-XXXXX-of-NNNNN.parquet), loadable by `datasets`
  stats.json         per-stage counts, reasons, timings, counters
  README.md          the dataset card
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import re
import shutil
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import yaml

from synthmill.errors import RunDirError
from synthmill.io.atomic import write_text_atomic
from synthmill.records import stable_hash

TRACKED_PACKAGES = (
    "synthmill",
    "pyarrow",
    "pydantic",
    "numpy",
    "typer",
    "rich",
    "pyyaml",
    "httpx",
    "llama-cpp-python",
    "math-verify",
    "scikit-learn",
)
# Options that change speed but never the rows, so a run may resume with other values.
EXECUTION_KEYS = ("concurrency", "executor")


def row_deciding(config: dict[str, Any]) -> dict[str, Any]:
    """The parts of a config that decide the output rows (no paths, no speed knobs)."""
    stages = [{k: v for k, v in s.items() if k not in EXECUTION_KEYS} for s in config["stages"]]
    content = {k: v for k, v in config.items() if k not in ("output", "stages", "cache")}
    return {**content, "stages": stages, "output": {"format": config["output"].get("format")}}


def fingerprint(config: dict[str, Any]) -> str:
    return stable_hash(row_deciding(config), length=32)


def default_cache_dir() -> Path:
    """$SYNTHMILL_CACHE_DIR, else $XDG_CACHE_HOME/synthmill, else ~/.cache/synthmill."""
    if env := os.environ.get("SYNTHMILL_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "synthmill"


def package_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


_LOCKS: dict[str, IO[str]] = {}


@dataclass(frozen=True)
class RunDir:
    root: Path

    # ---- paths ------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.root / "config.yaml"

    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    @property
    def stats_path(self) -> Path:
        return self.root / "stats.json"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def card_path(self) -> Path:
        return self.root / "README.md"

    def segment_dir(self, seg: int) -> Path:
        return self.root / "work" / f"seg-{seg:02d}"

    def shard_path(self, seg: int, shard: int) -> Path:
        return self.segment_dir(seg) / f"shard-{shard:05d}.parquet"

    def shard_marker(self, seg: int, shard: int) -> Path:
        return self.segment_dir(seg) / f"shard-{shard:05d}.done.json"

    def segment_marker(self, seg: int) -> Path:
        return self.segment_dir(seg) / "_SUCCESS.json"

    def rejects_path(self, stage: str, seg: int, shard: int) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", stage)
        return self.root / "rejects" / safe / f"seg-{seg:02d}-shard-{shard:05d}.jsonl"

    # ---- markers ----------------------------------------------------------------------
    def read_json(self, path: Path) -> Any:
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def write_json(self, path: Path, value: Any) -> None:
        # key order is meaning here: stages are listed in pipeline order
        write_text_atomic(path, json.dumps(value, indent=2, default=str) + "\n")

    def shards_done(self, seg: int) -> list[Path]:
        return sorted(self.segment_dir(seg).glob("shard-*.done.json"))

    # ---- life cycle -------------------------------------------------------------------
    def prepare(self, config: dict[str, Any], seed: int, overwrite: bool) -> None:
        """Create the run dir, or check that an existing one was made by this config."""
        if overwrite and self.root.exists():
            shutil.rmtree(self.root)
        if self.config_path.exists():
            self._check_same(config)
        elif self.root.exists() and any(self.root.iterdir()):
            raise RunDirError(
                f"{self.root} is not empty and holds no synthmill run; choose another output.dir"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock()
        for stale in self.root.rglob(".*.tmp"):  # left by a killed run; never renamed in place
            stale.unlink()
        run = self.read_json(self.run_json) or {
            "fingerprint": fingerprint(config),
            "seed": seed,
            "attempts": [],
        }
        run["attempts"].append({"started": _now(), "versions": package_versions()})
        run["status"] = "running"
        write_text_atomic(self.config_path, yaml.safe_dump(config, sort_keys=False))
        self.write_json(self.run_json, run)

    def _lock(self) -> None:
        """Hold an exclusive lock on the run dir for the life of this process."""
        fh = open(self.root / ".lock", "w")  # noqa: SIM115 - kept open to hold the lock
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise RunDirError(
                f"another synthmill process is running in {self.root}; wait for it or stop it"
            ) from None
        _LOCKS[str(self.root)] = fh

    def unlock(self) -> None:
        fh = _LOCKS.pop(str(self.root), None)
        if fh is not None:
            fh.close()

    def _check_same(self, config: dict[str, Any]) -> None:
        old = yaml.safe_load(self.config_path.read_text(encoding="utf-8"))
        if fingerprint(old) == fingerprint(config):
            return
        where = first_difference(row_deciding(old), row_deciding(config)) or "the config"
        raise RunDirError(
            f"{self.root} holds a run of another config ({where} differs); "
            "pass --overwrite to replace it, or set another output.dir"
        )

    def mark_finished(self) -> None:
        run = self.read_json(self.run_json)
        run["status"] = "finished"
        run["attempts"][-1]["finished"] = _now()
        self.write_json(self.run_json, run)


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """The dotted path of the first place two plain structures differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(dict.fromkeys([*a, *b])):
            if key in EXECUTION_KEYS:
                continue
            found = first_difference(a.get(key), b.get(key), f"{path}.{key}".lstrip("."))
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}.{i}".lstrip("."))
            if found:
                return found
        return None
    return None if a == b else (path or "the config")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
