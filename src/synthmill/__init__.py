"""synthmill: make synthetic training data, and make it safe to train on.

The names below are imported when first used, so `import synthmill` (and the command
line's `--help` and `--version`) does not pay for pyarrow, pydantic and the model stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synthmill.api import generate
    from synthmill.errors import ConfigError, SynthmillError
    from synthmill.pipeline import (
        Check,
        GlobalStage,
        Output,
        Pipeline,
        Source,
        Stage,
        StageContext,
    )
    from synthmill.records import Meta, Record, Verdict

    __version__: str

_WHERE = {
    "generate": "synthmill.api",
    "ConfigError": "synthmill.errors",
    "SynthmillError": "synthmill.errors",
    **dict.fromkeys(
        ["Check", "GlobalStage", "Output", "Pipeline", "Source", "Stage", "StageContext"],
        "synthmill.pipeline",
    ),
    **dict.fromkeys(["Meta", "Record", "Verdict"], "synthmill.records"),
}


def __getattr__(name: str) -> Any:
    """`synthmill.Pipeline` and friends, imported on first use (PEP 562)."""
    if name == "__version__":
        globals()[name] = _version()
        return globals()[name]
    if name not in _WHERE:
        raise AttributeError(f"module 'synthmill' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("synthmill")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0"


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE, "__version__"])


__all__ = [
    "Check",
    "ConfigError",
    "GlobalStage",
    "Meta",
    "Output",
    "Pipeline",
    "Record",
    "Source",
    "Stage",
    "StageContext",
    "SynthmillError",
    "Verdict",
    "__version__",
    "generate",
]
