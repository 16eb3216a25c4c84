"""Find stage classes by their `use:` name through the `synthmill.stages` entry points."""

from __future__ import annotations

from synthmill.pipeline.stage import Stage
from synthmill.plugins import load_plugin, plugin_names

GROUP = "synthmill.stages"


def stage_names() -> dict[str, str]:
    """use-name -> 'module:Class' of every installed stage."""
    return plugin_names(GROUP)


def stage_class(use: str, where: str = "use") -> type[Stage]:
    """The class registered as `use`, or a ConfigError naming the closest match."""
    return load_plugin(GROUP, use, Stage, where, "run 'synthmill stages' to list them")
