"""Group commit: many files made durable together instead of one fsync pair each.

Each file is written to a temp file beside its target; `flush()` makes every temp file
durable (one syncfs of the file system on Linux for many files, else an fsync per file),
renames each into place and fsyncs each directory once. A run killed before a flush
leaves only temp files (removed by the next run's cleanup, as atomic_path's are), so a
shard's marker, committed in a later flush than its data, never names data that is not
on disk. The columnar path commits shards this way, a second or so of them at a time.
"""

from __future__ import annotations

import ctypes
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from synthmill.io.atomic import current_umask

FLUSH_SECONDS = 1.0  # work a kill may lose: at most about this much is uncommitted
FLUSH_FILES = 256
# Fewer files than this are fsynced one by one: syncfs also waits for every other
# process's unwritten data on the file system, which on a busy disk costs seconds.
SYNCFS_FILES = 16


class Commit:
    """Temp files waiting to replace their targets, durably, all at one flush()."""

    def __init__(self) -> None:
        self.pending: list[tuple[Path, Path]] = []  # (temp file, target)
        self.removed: list[Path] = []
        self.started = time.monotonic()
        self.mode = 0o666 & ~current_umask()

    def path(self, target: Path) -> Path:
        """A temp path to write `target`'s new content into (renamed in at flush())."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            os.fchmod(fd, self.mode)
        finally:
            os.close(fd)
        if not self.pending:
            self.started = time.monotonic()
        self.pending.append((Path(name), target))
        return Path(name)

    def write_text(self, target: Path, text: str) -> None:
        self.path(target).write_text(text, encoding="utf-8")

    def unlink(self, target: Path) -> None:
        """Remove `target` at the next flush (a stage that rejected nothing this time)."""
        self.removed.append(target)

    def due(self) -> bool:
        """Whether enough is waiting (time or files) that it should be flushed now."""
        waited = time.monotonic() - self.started
        return len(self.pending) >= FLUSH_FILES or (bool(self.pending) and waited >= FLUSH_SECONDS)

    def flush(self) -> None:
        if len(self.pending) < SYNCFS_FILES or not _syncfs(self.pending[0][0].parent):
            for tmp, _ in self.pending:
                _fsync(tmp)
        folders: set[Path] = set()
        for tmp, target in self.pending:
            try:
                os.replace(tmp, target)
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, str(target)) from exc
            folders.add(target.parent)
        for target in self.removed:
            target.unlink(missing_ok=True)
            folders.add(target.parent)
        for folder in sorted(folders):
            if folder.exists():
                _fsync(folder)
        self.pending, self.removed = [], []

    def discard(self) -> None:
        """Remove the temp files of an unfinished group (the run failed)."""
        for tmp, _ in self.pending:
            tmp.unlink(missing_ok=True)
        self.pending, self.removed = [], []


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_LIBC: list[Any] = []


def _syncfs(folder: Path) -> bool:
    """syncfs(2) on the file system holding `folder`: every file written there is on disk
    after one call (about one fsync's cost, where one fsync per file costs N). False where
    it is not available (not Linux) or fails; the caller then fsyncs file by file."""
    if sys.platform != "linux":
        return False
    if not _LIBC:
        _LIBC.append(getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None))
    func = _LIBC[0]
    if func is None:
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        return bool(func(fd) == 0)
    finally:
        os.close(fd)
