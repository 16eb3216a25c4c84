"""Find stage classes by their `use:` name: an entry point, or an import path.

`use: dedup.exact` names a stage registered in the `synthmill.stages` entry points;
`use: mypkg.steps:MyStage` imports a Stage subclass directly (modules beside the
pipeline import too), so a custom stage needs no packaging to run from YAML.
"""

from __future__ import annotations

from synthmill.errors import ConfigError
from synthmill.pipeline.function import load_function
from synthmill.pipeline.stage import Stage
from synthmill.plugins import load_plugin, plugin_names

GROUP = "synthmill.stages"


def stage_names() -> dict[str, str]:
    """use-name -> 'module:Class' of every installed stage."""
    return plugin_names(GROUP)


def stage_class(use: str, where: str = "use") -> type[Stage]:
    """The class registered as `use` (or imported from 'module:Class'), else a ConfigError."""
    if ":" in use:
        return import_stage(use, where)
    return load_plugin(GROUP, use, Stage, where, "run 'synthmill stages' to list them")


def import_stage(path: str, where: str = "use") -> type[Stage]:
    """The Stage subclass at 'module:Class', or a one-line ConfigError saying why not."""
    try:
        cls = load_function(path)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except Exception as exc:  # the module itself is broken: say so in one line
        raise ConfigError(
            f"{where}: importing {path} failed: {type(exc).__name__}: {exc}"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Stage)):
        raise ConfigError(f"{where}: {path} is not a synthmill Stage subclass")
    return cls
