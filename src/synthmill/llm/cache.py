"""A response cache in SQLite (WAL mode), so a resumed or repeated run pays for no call twice.

The key covers the backend type, the model, the messages, the JSON schema, the sampling
parameters and the seed. Only successful completions are stored.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from synthmill.llm.base import Backend, Completion, Request
from synthmill.records import stable_hash

FILENAME = "llm-responses.sqlite"
_CHUNK = 500  # SQLite's limit on bound parameters is 999 on old builds
_SCHEMA = "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT, at REAL)"


def cache_key(backend: Backend, request: Request) -> str:
    """What makes two calls the same call; options that do not change the reply stay out."""
    return stable_hash(
        backend.kind,
        backend.model_name,
        request.messages,
        request.json_schema,
        request.params(),
        length=32,
    )


class ResponseCache:
    """Completions by cache key, in `<cache_dir>/llm-responses.sqlite`; safe across processes."""

    def __init__(self, cache_dir: str | Path) -> None:
        self.path = Path(cache_dir) / FILENAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=60)
        try:
            with db:  # commits, or rolls back on error
                yield db
        finally:
            db.close()

    def get_many(self, keys: Sequence[str]) -> dict[str, Completion]:
        """The cached completions among `keys`, marked cached=True."""
        found: dict[str, str] = {}
        with self._connect() as db:
            for start in range(0, len(keys), _CHUNK):
                part = list(keys[start : start + _CHUNK])
                marks = ",".join("?" * len(part))
                sql = f"SELECT key, value FROM responses WHERE key IN ({marks})"
                found.update(db.execute(sql, part).fetchall())
        return {k: _decode(v) for k, v in found.items()}

    def put_many(self, items: dict[str, Completion]) -> None:
        """Store successful completions; failed ones are retried on the next run."""
        rows = [(k, _encode(c), time.time()) for k, c in items.items() if c.error is None]
        if not rows:
            return
        with self._connect() as db:
            db.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?)", rows)

    def __len__(self) -> int:
        with self._connect() as db:
            (n,) = db.execute("SELECT COUNT(*) FROM responses").fetchone()
        return int(n)


def _encode(completion: Completion) -> str:
    return json.dumps(completion.to_dict(), ensure_ascii=False)


def _decode(value: str) -> Completion:
    data = json.loads(value)
    data["cached"] = True
    return Completion(**data)
