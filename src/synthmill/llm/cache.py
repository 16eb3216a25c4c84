"""A response cache in SQLite (WAL mode), so a resumed or repeated run pays for no call twice.

The key covers everything that can change a reply: the backend's identity (type, base
URL, model, reply-changing options, a fake backend's replies or function source), the
messages, the JSON schema, the sampling parameters and the seed. Only successful
completions are stored, each the moment it is paid for, with its payer (run and stage),
so a resumed run counts what a killed attempt paid as its own spending.
"""

from __future__ import annotations

import atexit
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from synthmill.llm.base import Backend, Completion, Request
from synthmill.records import stable_hash

FILENAME = "llm-responses.sqlite"
_CHUNK = 500  # SQLite's limit on bound parameters is 999 on old builds
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, value TEXT, at REAL, payer TEXT)"
)
# Calls exported to an offline batch file (batchfile.py), waiting for their replies:
# the model name a reply is recorded under, and the stage that asked.
_PENDING = "CREATE TABLE IF NOT EXISTS pending (key TEXT PRIMARY KEY, model TEXT, stage TEXT)"


def cache_key(backend: Backend, request: Request) -> str:
    """What makes two calls the same call; options that do not change the reply stay out."""
    return cache_keys(backend, [request])[0]


def cache_keys(backend: Backend, requests: Sequence[Request]) -> list[str]:
    """cache_key of each request; the backend's identity is worked out once."""
    identity = (backend.cache_identity(), backend.model_name)
    return [
        stable_hash(*identity, r.messages, r.json_schema, r.params(), *_raw(r), length=32)
        for r in requests
    ]


def _raw(request: Request) -> tuple[str, ...]:
    """A raw completion's prompt (nothing for chat requests, whose keys stay as they were)."""
    return () if request.prompt is None else (request.prompt,)


@dataclass(frozen=True)
class Hit:
    completion: Completion
    payer: str | None  # who paid for the call: "RUN/STAGE", None if unknown


class ResponseCache:
    """Completions by cache key, in `<cache_dir>/llm-responses.sqlite`; safe across processes."""

    def __init__(self, cache_dir: str | Path) -> None:
        self.path = Path(cache_dir) / FILENAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection for the cache's life (opening one costs ~10 ms, a commit 0.1 ms);
        # puts come from the backend's event-loop thread, hence the lock.
        self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL: a killed process loses no commit
            db.execute(_SCHEMA)
            db.execute(_PENDING)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._db:  # commits, or rolls back on error
            yield self._db

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_many(self, keys: Sequence[str]) -> dict[str, Hit]:
        """The cached completions among `keys` (marked cached=True) and who paid for them."""
        found: list[tuple[str, str, str | None]] = []
        with self._connect() as db:
            for start in range(0, len(keys), _CHUNK):
                part = list(keys[start : start + _CHUNK])
                marks = ",".join("?" * len(part))
                sql = f"SELECT key, value, payer FROM replies WHERE key IN ({marks})"
                found.extend(db.execute(sql, part).fetchall())
        return {k: Hit(_decode(v), payer) for k, v, payer in found}

    def put(self, key: str, completion: Completion, payer: str | None = None) -> None:
        """Store one successful completion; failed ones are retried on the next run.

        The first payer stays: a racing second call for the same key is not recorded.
        """
        if completion.error is not None:
            return
        row = (key, _encode(completion), time.time(), payer)
        with self._connect() as db:
            db.execute("INSERT OR IGNORE INTO replies VALUES (?, ?, ?, ?)", row)

    def add_pending(self, rows: Sequence[tuple[str, str, str]]) -> None:
        """Remember exported calls as (key, model name, stage)."""
        with self._connect() as db:
            db.executemany("INSERT OR REPLACE INTO pending VALUES (?, ?, ?)", rows)

    def pending(self, keys: Sequence[str]) -> dict[str, tuple[str, str]]:
        """key -> (model, stage) of the exported calls among `keys`."""
        found: list[tuple[str, str, str]] = []
        with self._connect() as db:
            for start in range(0, len(keys), _CHUNK):
                part = list(keys[start : start + _CHUNK])
                marks = ",".join("?" * len(part))
                sql = f"SELECT key, model, stage FROM pending WHERE key IN ({marks})"
                found.extend(db.execute(sql, part).fetchall())
        return {k: (m, s) for k, m, s in found}

    def drop_pending(self, keys: Sequence[str]) -> None:
        with self._connect() as db:
            db.executemany("DELETE FROM pending WHERE key = ?", [(k,) for k in keys])

    def __len__(self) -> int:
        with self._connect() as db:
            (n,) = db.execute("SELECT COUNT(*) FROM replies").fetchone()
        return int(n)


def _encode(completion: Completion) -> str:
    return json.dumps(completion.to_dict(), ensure_ascii=False)


def _decode(value: str) -> Completion:
    data = json.loads(value)
    data["cached"] = True
    return Completion(**data)


_OPEN: dict[tuple[int, str], ResponseCache] = {}
_OPEN_LOCK = threading.Lock()


def open_cache(cache_dir: str | Path) -> ResponseCache:
    """This process's one connection to the cache in `cache_dir`, shared by every batch.

    Closed at exit; opened again when the file was removed meanwhile (a test's cleanup).
    """
    key = (os.getpid(), str(Path(cache_dir).absolute()))
    with _OPEN_LOCK:
        cache = _OPEN.get(key)
        if cache is None or not cache.path.exists():
            cache = _OPEN[key] = ResponseCache(cache_dir)
        return cache


@atexit.register
def _close_open() -> None:
    with _OPEN_LOCK:
        for (pid, _), cache in list(_OPEN.items()):
            if pid == os.getpid():
                cache.close()
        _OPEN.clear()
