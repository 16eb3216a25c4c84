"""Plugins through entry points: stages and backends are both found this way.

Built-ins are registered in pyproject.toml through the same door as third-party plugins.
"""

from __future__ import annotations

import difflib
from functools import cache
from importlib.metadata import entry_points
from typing import TypeVar

from synthmill.errors import ConfigError

T = TypeVar("T")


@cache
def plugin_names(group: str) -> dict[str, str]:
    """name -> 'module:Class' of every plugin installed in an entry-point group."""
    return {ep.name: ep.value for ep in entry_points(group=group)}


def load_plugin(group: str, name: str, base: type[T], where: str, fallback_hint: str) -> type[T]:
    """The class registered as `name`, or a one-line ConfigError naming the closest match."""
    names = plugin_names(group)
    noun = base.__name__.lower()
    if name not in names:
        close = difflib.get_close_matches(name, list(names), n=1)
        hint = f"did you mean {close[0]!r}?" if close else fallback_hint
        raise ConfigError(f"{where}: unknown {noun} {name!r}; {hint}")
    (ep,) = [e for e in entry_points(group=group) if e.name == name]
    cls = ep.load()
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ConfigError(f"{where}: {ep.value} is not a synthmill {base.__name__}")
    return cls
