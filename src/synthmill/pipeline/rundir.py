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
import hashlib
import json
import logging
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

from synthmill.errors import BackendError, RunDirError, RunFailedError, describe_exception
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
# Options that change speed (or what counts as a failed run) but never the rows, at any
# depth of the config, so a run may resume with other values. A backend's `timeout` and
# key variable are such too; a check's own time limit (verify.math timeout) decides
# verdicts, so it stays.
SPEED_KEYS = frozenset(
    {
        "concurrency",
        "executor",
        "ray_address",
        "batch_size",
        "chunk_rows",
        "embed_batch",
        "workers",
        "n_threads",
        "max_retries",
        "backoff",
        "max_wait",
        "max_failed_share",
    }
)
BACKEND_SPEED_KEYS = frozenset(
    {
        "timeout",
        "timeouts",
        "api_key_env",
        "max_in_flight",
        "requests_per_minute",
        "tokens_per_minute",
    }
)
HASH_LIMIT = 1 << 30  # inputs under 1 GiB are fingerprinted by content, larger by size+mtime


def row_deciding(config: dict[str, Any]) -> dict[str, Any]:
    """The parts of a config that decide the output rows (no paths, no speed knobs)."""
    # max_failed_share and allow_empty only decide the exit code (and whether an empty
    # dataset is published), so a rerun may change them and resume
    outcome = ("output", "cache", "max_failed_share", "allow_empty")
    content = {k: v for k, v in config.items() if k not in outcome}
    output = config.get("output") or {}
    content["output"] = {"format": output.get("format") if isinstance(output, dict) else None}
    return _without_speed(content, in_backend=False)  # type: ignore[no-any-return]


def _without_speed(node: Any, in_backend: bool) -> Any:
    if isinstance(node, dict):
        return {
            k: _without_speed(v, in_backend or "backend" in str(k))
            for k, v in node.items()
            if k not in SPEED_KEYS and not (in_backend and k in BACKEND_SPEED_KEYS)
        }
    if isinstance(node, list):
        return [_without_speed(v, in_backend) for v in node]
    return node


def fingerprint(config: dict[str, Any]) -> str:
    return stable_hash(row_deciding(config), length=32)


def file_fingerprint(path: Path) -> dict[str, Any]:
    """Size, mtime and (under HASH_LIMIT) the SHA-256 of a file's content."""
    st = path.stat()
    digest = None
    if st.st_size < HASH_LIMIT:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
        digest = h.hexdigest()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}


def input_change(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """How the input files differ between two fingerprints, in words; None if they match."""
    for path in sorted(set(old) | set(new)):
        if path not in new:
            return f"input {path} is gone"
        if path not in old:
            return f"input {path} is new"
        a, b = old[path], new[path]
        if a.get("sha256") and b.get("sha256"):
            if a["sha256"] != b["sha256"]:
                return f"input {path} changed (content differs)"
        elif (a.get("size"), a.get("mtime_ns")) != (b.get("size"), b.get("mtime_ns")):
            return f"input {path} changed (size or modification time differs)"
    return None


def default_cache_dir() -> Path:
    """$SYNTHMILL_CACHE_DIR, else $XDG_CACHE_HOME/synthmill, else ~/.cache/synthmill."""
    if env := os.environ.get("SYNTHMILL_CACHE_DIR"):
        return Path(env)
    return user_cache_dir()


def user_cache_dir() -> Path:
    """$XDG_CACHE_HOME/synthmill, else ~/.cache/synthmill (not $SYNTHMILL_CACHE_DIR)."""
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


# run dir -> (its lock file, id of the RunDir that took it): a run refused the lock never
# releases (or marks) the run of this process that holds it
_LOCKS: dict[str, tuple[IO[str], int]] = {}
_ATTEMPTS: set[str] = set()  # run dirs whose current attempt this process started
LOCK_NAME = ".lock"
log = logging.getLogger(__name__)


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
        """A JSON file of the run dir, None if absent; a damaged one is a one-line error."""
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RunDirError(
                f"{path} is damaged ({exc}); remove the run directory or run with --overwrite"
            ) from exc

    def write_json(self, path: Path, value: Any) -> None:
        # key order is meaning here: stages are listed in pipeline order
        write_text_atomic(path, json.dumps(value, indent=2, default=str) + "\n")

    def shards_done(self, seg: int) -> list[Path]:
        return sorted(self.segment_dir(seg).glob("shard-*.done.json"))

    # ---- life cycle -------------------------------------------------------------------
    def check_target(self) -> None:
        """Refuse an output.dir that cannot hold this run, before anything is created."""
        root = self.root
        if root.exists() and not root.is_dir():
            raise RunDirError(f"output.dir {root} is a file, not a folder; choose another path")
        if (outer := enclosing_run(root)) is not None:
            raise RunDirError(
                f"output.dir {root} lies inside the run directory {outer}, whose files that "
                "run replaces (publish swaps data/ whole); choose a folder outside it"
            )
        if root.is_dir() and not self.config_path.exists() and _foreign(root):
            if self._held():  # a live run between its lock and its config (--overwrite)
                raise self._busy()
            raise RunDirError(
                f"{root} is not empty and holds no synthmill run; choose another output.dir"
            )
        existing = next(p for p in (root, *root.parents) if p.exists())
        if not existing.is_dir():
            raise RunDirError(f"output.dir {root}: {existing} is a file, not a folder")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise RunDirError(
                f"output.dir {root}: {existing} is not writable (read-only or no permission); "
                "choose a writable folder"
            )

    def prepare(
        self,
        config: dict[str, Any],
        seed: int,
        overwrite: bool,
        inputs: dict[str, Any] | None = None,
    ) -> None:
        """Lock the run dir, then create it, replace it (--overwrite) or check it is ours.

        The lock comes first, so --overwrite never deletes the files of a live run.
        """
        self.check_target()
        if not overwrite and self.config_path.exists():  # refuse before touching anything
            self._check_same(config)
            self._check_inputs(inputs)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            self._start(config, seed, overwrite, inputs)
        except BaseException as exc:  # SIGTERM or Ctrl-C as run.json was written, too
            self.mark_failed(describe_exception(exc), not isinstance(exc, Exception))
            self.unlock()
            raise

    def _start(
        self, config: dict[str, Any], seed: int, overwrite: bool, inputs: dict[str, Any] | None
    ) -> None:
        if overwrite:
            self._clear()
        elif self.config_path.exists():
            self._check_same(config)
            self._check_inputs(inputs)
        _remove_stale(self.root)
        run = self.read_json(self.run_json) or {
            "fingerprint": fingerprint(config),
            "seed": seed,
            "attempts": [],
        }
        if inputs is not None:
            run["inputs"] = inputs
        run["attempts"].append({"started": _now(), "versions": package_versions()})
        run["status"] = "running"
        write_text_atomic(self.config_path, yaml.safe_dump(config, sort_keys=False))
        _ATTEMPTS.add(str(self.root))  # from here on, a run.json saying running is ours
        self.write_json(self.run_json, run)

    def _lock(self) -> None:
        """Hold an exclusive lock on the run dir for the life of this process."""
        fh = open(self.root / LOCK_NAME, "a+")  # noqa: SIM115 - kept open to hold the lock
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise self._busy() from None
        fh.truncate(0)
        fh.write(str(os.getpid()))
        fh.flush()
        _LOCKS[str(self.root)] = (fh, id(self))

    def is_locked(self) -> bool:
        """Is a run going on in this directory right now (its lock is held)?"""
        return self._held()

    def _held(self) -> bool:
        """Does another process hold this run dir's lock now? (Creates nothing.)"""
        try:
            with open(self.root / LOCK_NAME, encoding="utf-8") as fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return True
                fcntl.flock(fh, fcntl.LOCK_UN)
        except FileNotFoundError:
            return False
        return False

    def _busy(self) -> RunDirError:
        try:
            holder = (self.root / LOCK_NAME).read_text(encoding="utf-8").strip()
        except OSError:
            holder = ""
        who = f" (pid {holder})" if holder.isdigit() else ""
        return RunDirError(
            f"another run holds the lock on {self.root}{who}; wait for it or stop it"
        )

    def _owned(self) -> bool:
        """Did this RunDir take the lock (not another run of this process that holds it)?"""
        held = _LOCKS.get(str(self.root))
        return held is not None and held[1] == id(self)

    def unlock(self) -> None:
        if not self._owned():
            return
        _ATTEMPTS.discard(str(self.root))
        _LOCKS.pop(str(self.root))[0].close()

    def _clear(self) -> None:
        """--overwrite: remove everything but the lock this process holds."""
        for entry in self.root.iterdir():
            if entry.name == LOCK_NAME:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def _check_same(self, config: dict[str, Any]) -> None:
        try:
            old = yaml.safe_load(self.config_path.read_text(encoding="utf-8"))
            same = fingerprint(old) == fingerprint(config)
        except (yaml.YAMLError, UnicodeDecodeError, AttributeError, TypeError) as exc:
            raise RunDirError(
                f"{self.config_path} is damaged ({type(exc).__name__}); remove the run "
                "directory or run with --overwrite"
            ) from exc
        if same:
            return
        where = first_difference(row_deciding(old), row_deciding(config)) or "the config"
        raise RunDirError(
            f"{self.root} holds a run of another config ({where} differs); "
            "pass --overwrite to replace it, or set another output.dir"
        )

    def _check_inputs(self, inputs: dict[str, Any] | None) -> None:
        old = (self.read_json(self.run_json) or {}).get("inputs")
        if old is None or inputs is None:
            return
        change = input_change(old, inputs)
        if change:
            raise RunDirError(
                f"{change} since the run in {self.root} started; resuming would mix old and "
                "new rows: restore it, or pass --overwrite to start again"
            )

    def mark_finished(self) -> None:
        run = self.read_json(self.run_json)
        run["status"] = "finished"
        run["attempts"][-1]["finished"] = _now()
        self.write_json(self.run_json, run)

    def stopped_by_backend(self, exc: BackendError) -> RunFailedError:
        """A backend that the run's first calls found unusable (refused key, unknown model,
        a server gone since preflight): status failed, and an error (exit 1) saying that this
        folder is kept for a resume, since it was written before the calls were made."""
        self.mark_failed(str(exc))
        return RunFailedError(
            f"{exc}; the run stopped part-way and {self.root} is kept (status failed): "
            "run the same command again to resume"
        )

    def mark_failed(self, error: str, interrupted: bool = False) -> None:
        """Record a run that stopped on an error (status `failed`) or was stopped by Ctrl-C
        or SIGTERM (`interrupted`); best effort (the disk may be full). Only the attempt this
        process started is marked: never a live run's, nor one a killed run left."""
        if str(self.root) not in _ATTEMPTS or not self._owned():
            return
        try:
            run = self.read_json(self.run_json)
            if run.get("status") != "running":  # finished, then found lacking (exit 3)
                return
            run["status"] = "interrupted" if interrupted else "failed"
            run["attempts"][-1].update(failed=_now(), error=error)
            self.write_json(self.run_json, run)
        except (OSError, ValueError, KeyError, TypeError, RunDirError):
            log.debug("could not record the failure in %s", self.run_json)


def enclosing_run(path: Path) -> Path | None:
    """The synthmill run directory that `path` lies inside (not `path` itself), if any:
    nothing may be written there but by its own run, or `export` under RUN/export/."""
    for parent in path.resolve().parents:
        if (parent / "run.json").is_file() and (parent / "config.yaml").is_file():
            return parent
    return None


def _foreign(root: Path) -> bool:
    """Does a folder hold anything but a lock and temp files a synthmill run left?"""
    return any(not _ours(e.name) for e in root.iterdir())


def _ours(name: str) -> bool:
    return name == LOCK_NAME or (name.startswith(".") and name.endswith(".tmp"))


def _remove_stale(root: Path) -> None:
    """Remove temp files and folders a killed run left; they are never renamed in place."""
    for stale in sorted(root.rglob(".*.tmp"), reverse=True):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """The dotted path of the first place two plain structures differ (None: they are equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in dict.fromkeys([*a, *b]):
            found = first_difference(a.get(key), b.get(key), _join(path, key))
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            found = first_difference(x, y, _join(path, i))
            if found:
                return found
        if len(a) != len(b):
            where = _join(path, min(len(a), len(b)))
            return f"{where} (one has {len(a)} items, the other {len(b)})"
        return None
    return None if a == b else (path or "the config")


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
