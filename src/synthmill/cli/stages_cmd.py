"""`synthmill stages`: list every stage that a pipeline can `use:`."""

from __future__ import annotations

import sys
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import typer
from pydantic.fields import FieldInfo
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from synthmill.pipeline.registry import stage_class, stage_names


def stages(
    name: str | None = typer.Argument(None, help="Show one stage: its options and details."),
) -> None:
    """List installed stages (built-in and plugins) with their options."""
    if name is not None:
        _one(name)
        return
    table = Table("use", "options", "what it does")
    table.caption = "synthmill stages NAME: each option's type, default and help"
    for name in sorted(stage_names()):
        cls = stage_class(name)
        base = {"name", "batch_size", "concurrency", "executor"}
        fields = cls.model_fields.items()
        options = ", ".join(info.alias or f for f, info in fields if f not in base)
        doc = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "").strip()
        doc = doc.splitlines()[0] if doc else ""
        table.add_row(name, options, doc)
    Console().print(table)


def _one(name: str) -> None:
    """One stage's options with their help, then its details() table when it has one
    (`synthmill stages problems`: distinct problems per family and difficulty)."""
    cls = stage_class(name)
    console = Console()
    console.print(f"[bold]{name}[/bold]: {(cls.__doc__ or '').strip().splitlines()[0]}")
    options = Table("option", "type", "default", "help")
    for field_name, info in cls.model_fields.items():
        cells = [info.alias or field_name, type_name(info.annotation), default_of(info)]
        options.add_row(*(escape(c) for c in [*cells, info.description or ""]))
    console.print(options)
    details = getattr(cls, "details", None)
    if details is not None:
        header, rows = details()
        table = Table(*header)
        for row in rows:
            table.add_row(*row)
        console.print(table)


def type_name(annotation: Any) -> str:
    """A field's type as a YAML writer reads it: int, str | None, list[str], 'a' | 'b'."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return type_name(args[0])
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(type_name(a) for a in args)}]" if args else name
    if annotation is type(None):
        return "None"
    if isinstance(annotation, type):
        return "backend" if annotation.__name__ == "Backend" else annotation.__name__
    return str(annotation)


def default_of(info: FieldInfo) -> str:
    """The default as YAML would spell it; 'required' when there is none."""
    if info.is_required():
        return "required"
    if info.default_factory is not None:
        return repr(info.default_factory())  # type: ignore[call-arg]
    if info.default is None and type_name(info.annotation) == "backend":
        return "the pipeline's backend, else llamacpp"
    if info.default is None or isinstance(info.default, bool):
        return {None: "null", True: "true", False: "false"}[info.default]
    return repr(info.default)


def register(app: typer.Typer) -> None:
    app.command("stages")(stages)
