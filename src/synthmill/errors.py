"""One root error; each subclass also inherits the builtin it resembles."""

from __future__ import annotations


class SynthmillError(Exception):
    """Root of every error synthmill raises on purpose. Messages say how to fix."""


class ConfigError(SynthmillError, ValueError):
    """A pipeline config that cannot run: unknown key, wrong type, missing file."""


class DataError(SynthmillError, ValueError):
    """Input data that cannot be read or does not have the expected columns."""


class RunDirError(SynthmillError, RuntimeError):
    """A run directory that does not match the config, or is damaged."""


class MissingExtraError(SynthmillError, ImportError):
    """An optional dependency is missing; the message carries the pip line."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed; install it with: pip install 'synthmill[{extra}]'"
        )
