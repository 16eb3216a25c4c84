"""Find stage classes by their `use:` name through the `synthmill.stages` entry points.

Built-in stages are registered in pyproject.toml through the same door as plugins.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from importlib.metadata import entry_points

from synthmill.errors import ConfigError
from synthmill.pipeline.stage import Stage

GROUP = "synthmill.stages"


@lru_cache(maxsize=1)
def stage_names() -> dict[str, str]:
    """use-name -> 'module:Class' of every installed stage."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def stage_class(use: str, where: str = "use") -> type[Stage]:
    """The class registered as `use`, or a ConfigError naming the closest match."""
    names = stage_names()
    if use not in names:
        close = difflib.get_close_matches(use, list(names), n=1)
        hint = f"did you mean {close[0]!r}?" if close else "run 'synthmill stages' to list them"
        raise ConfigError(f"{where}: unknown stage {use!r}; {hint}")
    (ep,) = [e for e in entry_points(group=GROUP) if e.name == use]
    cls = ep.load()
    if not (isinstance(cls, type) and issubclass(cls, Stage)):
        raise ConfigError(f"{where}: {ep.value} is not a synthmill Stage")
    return cls
