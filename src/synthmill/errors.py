"""One root error; each subclass also inherits the builtin it resembles.

Every error carries the exit code the CLI ends with: 2 for a bad config or input (found
before anything is written), 1 for a run that started and could not finish.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterable, Iterator
from typing import ClassVar, TypeVar

T = TypeVar("T")


class SynthmillError(Exception):
    """Root of every error synthmill raises on purpose. Messages say how to fix."""

    exit_code: ClassVar[int] = 2


class ConfigError(SynthmillError, ValueError):
    """A pipeline config that cannot run: unknown key, wrong type, missing file."""


class DataError(SynthmillError, ValueError):
    """Input data that cannot be read or does not have the expected columns."""


class RunDirError(SynthmillError, RuntimeError):
    """A run directory that does not match the config, or is damaged."""


class RunFailedError(SynthmillError, RuntimeError):
    """A run that started and stopped part-way (a stage raised, the disk filled).

    Finished shards are kept: fix the cause and run the same command to resume.
    """

    exit_code: ClassVar[int] = 1


class BackendError(SynthmillError, RuntimeError):
    """A backend that cannot answer at all: unreachable, or its key or model refused.

    Exit code 2, like a config error, when preflight finds it (nothing written); the runner
    turns one that the first calls find into a RunFailedError (exit 1, the run dir kept).
    (Not an OSError: that would read as a disk or folder problem.)"""


class MissingExtraError(SynthmillError, ImportError):
    """An optional dependency is missing; the message carries the pip line."""

    def __init__(self, package: str, extra: str, where: str = "") -> None:
        prefix = f"{where}: " if where else ""
        super().__init__(
            f"{prefix}{package} is not installed; install it with: pip install 'synthmill[{extra}]'"
        )


_OS_HINTS = {
    errno.ENOSPC: "the disk is full; free space and run the same command again",
    errno.EDQUOT: "the disk quota is used up; free space and run the same command again",
    errno.EROFS: "choose a writable output.dir",
    errno.EACCES: "fix the permissions or choose a writable folder",
    errno.EPERM: "is it immutable (chattr +i)? fix that or choose another folder",
    errno.ENOTDIR: "a part of this path is a file; choose another path",
    errno.EISDIR: "remove that folder or choose another path",
    errno.EEXIST: "remove what is in the way or choose another path",
}


def describe_os_error(exc: OSError) -> str:
    """One line for an OSError: the file, what went wrong, and what to do."""
    name = f"{exc.filename}: " if exc.filename is not None else ""
    hint = _OS_HINTS.get(exc.errno or 0, "fix that and run the same command again")
    reason = exc.strerror or (os.strerror(exc.errno) if exc.errno else str(exc))
    return f"{name}{reason or type(exc).__name__}; {hint}"


def describe_exception(exc: BaseException) -> str:
    """One line for any exception: an OSError as above, else its type and message."""
    if isinstance(exc, SynthmillError):
        return str(exc)
    if isinstance(exc, OSError):
        return describe_os_error(exc)
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextlib.contextmanager
def stage_errors(label: str, shard: int) -> Iterator[None]:
    """Turn an exception raised while a stage runs into one RunFailedError naming the stage.

    SynthmillErrors pass unchanged; the original stays chained for --debug.
    """
    try:
        yield
    except SynthmillError:
        raise
    except Exception as exc:
        raise RunFailedError(
            f"stage {label!r} failed on shard {shard}: {describe_exception(exc)}; fix it and run "
            "the same command to resume (--debug shows the traceback)"
        ) from exc


def guard_stage(items: Iterable[T], label: str, shard: int) -> Iterator[T]:
    """Iterate a stage's lazy results; an exception it raises becomes one RunFailedError."""
    with stage_errors(label, shard):
        yield from items
