"""Plain functions as stages: `def f(batch: list[Record]) -> list[Record]`."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator

from synthmill.pipeline.portable import object_path
from synthmill.pipeline.stage import ANY_COLUMN, Stage, StageContext
from synthmill.records import Record


def import_path(fn: Callable[..., Any]) -> str:
    """'module:qualname' for a function, so the pipeline can be written as YAML."""
    return object_path(fn)


def load_function(path: str) -> Callable[..., Any]:
    module_name, _, attr = path.partition(":")
    if not attr:
        raise ValueError(f"{path!r} is not 'module:function'; write it like 'mypkg.steps:clean'")
    if os.getcwd() not in sys.path:  # like uvicorn and `python -m`: modules beside the user's
        sys.path.insert(0, os.getcwd())  # pipeline come first (opacus installs an `examples`)
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name!r} ({exc}); is it on PYTHONPATH?") from exc
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ValueError(f"{module_name!r} has no {attr!r}; check the spelling")
    if not callable(obj):
        raise ValueError(f"{path!r} is not callable")
    return obj  # type: ignore[no-any-return]


def user_source(obj: Any) -> list[Path]:
    """[the file defining obj] when it is not part of Python, an installed package or
    synthmill itself (those are versioned, in run.json), else []."""
    file = getattr(sys.modules.get(getattr(obj, "__module__", "") or ""), "__file__", None)
    if not file:
        return []
    path = Path(file).resolve()
    installed = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(__file__).parents[1])}
    if any(Path(root).resolve() in path.parents for root in installed):
        return []
    return [path]


class FunctionStage(Stage):
    """Runs an importable function on each batch; it may take (batch) or (batch, ctx)."""

    kind: ClassVar[str] = "map"
    function: str
    input_columns: list[str] = Field(
        default=[], description="Columns the function reads; checked before the run starts."
    )
    output_columns: list[str] | None = Field(
        default=None, description="Columns it adds; unset: later stages are checked on its output."
    )

    @field_validator("function", mode="before")
    @classmethod
    def _to_path(cls, value: Any) -> str:
        path = import_path(value) if callable(value) else str(value)
        if "<locals>" in path or "<lambda>" in path:
            raise ValueError(f"{path} cannot be imported by name; define it at module level")
        load_function(path)
        return path

    @property
    def label(self) -> str:
        return self.name or self.function.rpartition(":")[2]

    def reads(self) -> list[str]:
        return list(self.input_columns)

    def input_files(self) -> list[Path]:
        """The function's source file when it is the user's code: run.json fingerprints it,
        so a resume after editing it refuses to mix rows of the old and the new code."""
        return user_source(load_function(self.function))

    def writes(self) -> list[str]:
        return [ANY_COLUMN] if self.output_columns is None else list(self.output_columns)

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        fn = load_function(self.function)
        takes_ctx = len(inspect.signature(fn).parameters) >= 2
        return list(fn(batch, ctx) if takes_ctx else fn(batch))
