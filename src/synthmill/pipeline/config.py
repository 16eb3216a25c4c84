"""Pipeline configs: YAML to Python objects and back, with one-line errors."""

from __future__ import annotations

import difflib
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from synthmill.errors import ConfigError


class _UniqueKeys(yaml.SafeLoader):
    """safe_load, but a key written twice in one mapping is an error, not the last one
    silently winning (`min_words: 3` then `min_words: 300` ran with 300)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`, resolved by super()
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):  # SafeLoader's own error
                continue
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    problem=f"key {key!r} appears twice (also at line {seen[key]}); keep one",
                    problem_mark=key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, or raise a ConfigError that says what is wrong with it."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p} (check the path)")
    try:
        data = yaml.load(p.read_text(encoding="utf-8"), Loader=_UniqueKeys)  # a SafeLoader
    except (UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"{p}: cannot be read as UTF-8 text ({exc}); check the file") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        fix = "" if "appears twice" in problem else "; fix the YAML syntax"
        raise ConfigError(f"{p}{where}: {problem}{fix}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping with name, stages and output at the top")
    return data


def apply_overrides(
    config: dict[str, Any], overrides: list[str], top_keys: set[str] | None = None
) -> dict[str, Any]:
    """Apply `--set a.b.c=value` overrides; a stage may be named by index or by name.

    `top_keys` are the pipeline's own keys: a first part that is neither one of them
    nor a stage, but close to a stage's name, is reported with that name as a hint.
    """
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: write it as key.path=value, e.g. stages.0.n=100")
        value = _parse_value(raw, item)
        parts = _resolve_stage_name(config, key.split("."), item, top_keys or set())
        _set_path(config, parts, value, item)
    return config


def _parse_value(raw: str, item: str) -> Any:
    if not raw:
        return ""
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(
            f"--set {item!r}: the value is not valid YAML ({problem}); "
            "fix it, or quote it to pass it as text: key='\"...\"'"
        ) from None


def _stage_labels(stages: list[Any]) -> list[str]:
    return [
        str(label)
        for stage in stages
        if isinstance(stage, dict)
        for label in (stage.get("name"), stage.get("use"))
        if label
    ]


def _resolve_stage_name(
    config: dict[str, Any], parts: list[str], item: str, top_keys: set[str]
) -> list[str]:
    """Map `filter.length.min_chars` to `stages.N.min_chars` (stage kinds contain dots)."""
    stages = config.get("stages")
    if parts[0] == "stages" or not isinstance(stages, list):
        return parts
    for j in range(len(parts) - 1, 0, -1):
        label = ".".join(parts[:j])
        found = _stages_called(stages, label, "name") or _stages_called(stages, label, "use")
        if len(found) > 1:  # never the first of several, silently
            where = ", ".join(f"stages.{i}" for i in found)
            raise ConfigError(
                f"--set {item}: {len(found)} stages are {label!r} ({where}); write "
                f"stages.N.{'.'.join(parts[j:])}, or give each a name: and use that"
            )
        if found:
            return ["stages", str(found[0]), *parts[j:]]
    if top_keys and parts[0] not in top_keys:
        _suggest_stage(parts, _stage_labels(stages), item)
    return parts


def _stages_called(stages: list[Any], label: str, key: str) -> list[int]:
    return [i for i, s in enumerate(stages) if isinstance(s, dict) and s.get(key) == label]


def _suggest_stage(parts: list[str], labels: list[str], item: str) -> None:
    """Raise a ConfigError naming the stage a misspelt `--set STAGE.key=v` most likely meant."""
    for j in range(len(parts) - 1, 0, -1):
        label = ".".join(parts[:j])
        close = difflib.get_close_matches(label, labels, n=1, cutoff=0.75)
        if close:
            raise ConfigError(
                f"--set {item}: no stage is named {label!r}; did you mean {close[0]!r}?"
            )


def _set_path(node: Any, parts: list[str], value: Any, item: str) -> None:
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"--set {item}: {where} is not an index of a list of {len(node)}")
            key: Any = int(part)
        elif isinstance(node, dict):
            key = part
            if not last:
                node.setdefault(key, {})
        else:
            raise ConfigError(f"--set {item}: {where} is not inside a mapping or list")
        if last:
            node[key] = value
        else:
            node = node[key]


def validate(model: type[BaseModel], data: Any, where: str) -> BaseModel:
    """model.model_validate(data) with a ValidationError turned into a one-line ConfigError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe(exc, model, where)) from None


def describe(exc: ValidationError, model: type[BaseModel], where: str) -> str:
    """The first error of `exc` as 'path: problem; fix' in one line."""
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    path = ".".join(p for p in [where, *loc] if p)
    kind = err["type"]
    if kind == "extra_forbidden":
        known = [info.alias or name for name, info in model.model_fields.items()]
        close = difflib.get_close_matches(loc[-1], known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
        return f"{path}: unknown key; {hint}"
    if kind == "missing":
        return f"{path}: required key is missing; add it"
    msg = err["msg"].removeprefix("Value error, ")
    if not path:  # a check of the whole model: its message names what is wrong
        return str(msg)
    got = err.get("input")
    shown = "" if isinstance(got, dict | list | BaseModel) else f" (got {got!r})"
    return f"{path}: {msg}{shown}"
