"""What lets a pipeline built in Python be written as YAML that runs as written.

A class or function is written as 'module:qualname' (a script run as `__main__` is
named by its file, relative to the project), and an absolute path inside the project
(the current directory) is written relative to it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from synthmill.plugins import plugin_names

STAGES = "synthmill.stages"


def object_path(obj: Any) -> str:
    """'module:qualname' of a class or function, importable from the project folder."""
    return f"{module_name(obj.__module__)}:{obj.__qualname__}"


def module_name(name: str) -> str:
    """The importable name of a module; `__main__` becomes its file's dotted path."""
    if name != "__main__":
        return name
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if not main:
        return name
    try:
        relative = Path(main).resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return Path(main).stem  # outside the project: importable only from its own folder
    return ".".join(relative.with_suffix("").parts)


def use_name(cls: type[Any]) -> str:
    """The `use:` naming a stage class: its registered name, else its import path."""
    kind = getattr(cls, "kind", "")
    registered = plugin_names(STAGES).get(kind)
    if registered is not None and registered == f"{cls.__module__}:{cls.__qualname__}":
        return str(kind)
    return object_path(cls)


def portable_path(value: Any) -> Any:
    """An absolute path inside the project written relative to it; anything else as is."""
    if not isinstance(value, str) or not os.path.isabs(value):
        return value
    try:
        return Path(value).relative_to(Path.cwd()).as_posix() or "."
    except ValueError:
        return value
