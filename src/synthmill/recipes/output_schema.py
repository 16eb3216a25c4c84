"""Output schemas for `generate`: a YAML shorthand or a pydantic model by import path.

    schema:
      answer: str
      confidence: {type: integer, minimum: 1, maximum: 5}
      tags: {type: array, items: str, maxItems: 3}

becomes a pydantic model whose JSON schema constrains the backend and whose validation
checks each reply; its fields become columns.
"""

from __future__ import annotations

import keyword
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, create_model
from pydantic_core import SchemaError

from synthmill.pipeline.function import load_function
from synthmill.pipeline.portable import object_path
from synthmill.records import stable_hash

SchemaSpec = str | dict[str, Any] | type[BaseModel]

_TYPES: dict[str, type] = {
    "str": str,
    "string": str,
    "int": int,
    "integer": int,
    "float": float,
    "number": float,
    "bool": bool,
    "boolean": bool,
}
# JSON-schema keywords a field may carry, and the pydantic Field argument each becomes.
_CONSTRAINTS = {
    "minimum": "ge",
    "maximum": "le",
    "exclusiveMinimum": "gt",
    "exclusiveMaximum": "lt",
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
    "minItems": "min_length",
    "maxItems": "max_length",
    "description": "description",
}
_KEYS = {"type", "enum", "items", *_CONSTRAINTS}
# Which keywords fit which kind of value (a misplaced one would be silently ignored).
_FITS: dict[str, set[str]] = {
    "number": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
    "string": {"minLength", "maxLength", "pattern"},
    "array": {"items", "minItems", "maxItems"},
}
_MODELS: dict[str, type[BaseModel]] = {}


def schema_model(spec: SchemaSpec, max_chars: int | None = None) -> type[BaseModel]:
    """The pydantic model for a schema spec; a bad spec is a ValueError saying what to fix."""
    if isinstance(spec, type):
        if not issubclass(spec, BaseModel):
            raise ValueError(f"{spec!r} is not a pydantic model")
        return spec
    if isinstance(spec, str):
        return import_model(spec)
    key = stable_hash(spec, max_chars)
    if key not in _MODELS:
        _MODELS[key] = _build(spec, max_chars)
    return _MODELS[key]


def import_model(path: str) -> type[BaseModel]:
    """A pydantic model named 'module:Class' (imported the way `use: map` functions are)."""
    if not path.partition(":")[0]:
        raise ValueError(f"{path!r} is not 'module:Model'; write it like 'mypkg.models:Answer'")
    obj = load_function(path)
    if not (isinstance(obj, type) and issubclass(obj, BaseModel)):
        raise ValueError(f"{path!r} is not a pydantic model (a BaseModel subclass)")
    return obj


def model_path(model: type[BaseModel]) -> str:
    """'module:Class' of a model, as written back to YAML."""
    return object_path(model)


def _build(spec: dict[str, Any], max_chars: int | None) -> type[BaseModel]:
    if not spec:
        raise ValueError("schema has no fields; give e.g. {answer: str}")
    fields: dict[str, Any] = {}
    for name, field in spec.items():
        _check_name(name)
        fields[name] = _field(str(name), field, max_chars)
    config = ConfigDict(extra="ignore")
    try:
        model: type[BaseModel] = create_model("Output", __config__=config, **fields)
        model.model_json_schema()
    except (SchemaError, PydanticUserError, TypeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[-1].strip()
        raise ValueError(f"schema cannot be built: {first}") from None
    return model


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"schema field {name!r} is not a valid column name (use letters, _)")
    if name.startswith("_"):
        raise ValueError(f"schema field {name!r} may not start with '_'")


def _field(name: str, spec: Any, max_chars: int | None) -> tuple[Any, Any]:
    """(annotation, FieldInfo) of one field spec: a type name or a mapping with `type`."""
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict):
        raise ValueError(f"schema.{name}: expected a type name like str or a mapping with type")
    unknown = set(spec) - _KEYS
    if unknown:
        known = ", ".join(sorted(_KEYS))
        raise ValueError(f"schema.{name}: unknown key {sorted(unknown)[0]!r}; known: {known}")
    annotation = _annotation(name, spec, max_chars)
    _check_fits(name, spec, annotation)
    kwargs = {_CONSTRAINTS[k]: v for k, v in spec.items() if k in _CONSTRAINTS}
    if annotation is str and max_chars and "max_length" not in kwargs:
        kwargs["max_length"] = max_chars
    try:
        return annotation, Field(**kwargs)
    except TypeError as exc:
        raise ValueError(f"schema.{name}: {exc}") from None


def _check_fits(name: str, spec: dict[str, Any], annotation: Any) -> None:
    kind = "string" if annotation is str else "number" if annotation in (int, float) else None
    kind = "array" if getattr(annotation, "__origin__", None) is list else kind
    for key in spec:
        for fits, keys in _FITS.items():
            if key in keys and fits != kind:
                raise ValueError(f"schema.{name}: {key} applies to {fits} fields only")


def _item(name: str, spec: Any, max_chars: int | None) -> Any:
    """The annotated type of a list's items (their own constraints kept)."""
    item_type, info = _field(f"{name}.items", spec, max_chars)
    return Annotated[item_type, info]


def _annotation(name: str, spec: dict[str, Any], max_chars: int | None) -> Any:
    if "enum" in spec:
        values = spec["enum"]
        if not isinstance(values, list) or not values:
            raise ValueError(f"schema.{name}.enum: expected a non-empty list of values")
        return Literal[tuple(values)]
    kind = spec.get("type")
    if kind in ("array", "list"):
        return list[_item(name, spec.get("items", "str"), max_chars)]  # type: ignore[misc]
    if isinstance(kind, str) and kind.startswith("list[") and kind.endswith("]"):
        return list[_item(name, kind[5:-1], max_chars)]  # type: ignore[misc]
    if kind not in _TYPES:
        known = ", ".join(sorted({*_TYPES, "array", "list[str]"}))
        raise ValueError(f"schema.{name}: unknown type {kind!r}; known: {known}")
    return _TYPES[kind]
