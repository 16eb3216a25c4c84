"""Find backends by their `type:` name through the `synthmill.backends` entry points.

Built-in backends are registered in pyproject.toml through the same door as plugins.
`BackendField` is the pydantic type a recipe uses for its `backend` option.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer

from synthmill.errors import ConfigError
from synthmill.llm.base import Backend
from synthmill.pipeline.config import validate
from synthmill.plugins import load_plugin, plugin_names

GROUP = "synthmill.backends"
DEFAULT_BACKEND: dict[str, Any] = {"type": "llamacpp"}


def backend_names() -> dict[str, str]:
    """type-name -> 'module:Class' of every installed backend."""
    return plugin_names(GROUP)


def backend_class(name: str, where: str = "backend.type") -> type[Backend]:
    """The class registered as `name`, or a ConfigError naming the closest match."""
    known = ", ".join(sorted(backend_names()))
    return load_plugin(GROUP, name, Backend, where, f"known: {known}")


def make_backend(spec: dict[str, Any] | Backend | None, where: str = "backend") -> Backend:
    """A backend from a YAML mapping (`type:` plus options), a Backend, or None (default)."""
    if isinstance(spec, Backend):
        return spec
    if spec is None:
        spec = DEFAULT_BACKEND
    if not isinstance(spec, dict):
        raise ConfigError(f"{where or 'backend'}: expected a mapping like {{type: llamacpp}}")
    type_key = f"{where}.type" if where else "type"
    if "type" not in spec:
        raise ConfigError(f"{type_key}: required key is missing; add e.g. type: llamacpp")
    cls = backend_class(str(spec["type"]), type_key)
    options = {k: v for k, v in spec.items() if k != "type"}
    backend = validate(cls, options, where)
    assert isinstance(backend, Backend)
    return backend


def _coerce(value: Any) -> Backend:
    # Paths are relative: pydantic prefixes the field's own location (stages.0.backend).
    return make_backend(value, where="")


def _serialize(backend: Backend) -> dict[str, Any]:
    return backend.to_config()


BackendField = Annotated[
    Backend,
    BeforeValidator(_coerce),
    PlainSerializer(_serialize, return_type=dict),
]
"""A recipe option holding a Backend; accepts a YAML mapping, a Backend, or None (default)."""


def backend_option(description: str = "Model backend; defaults to the embedded model.") -> Any:
    """The Field for a recipe's `backend: BackendField` option (None becomes the default)."""
    return Field(default=None, validate_default=True, description=description)
