"""`synthmill stages`: list every stage that a pipeline can `use:`."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
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
    options = Table("option", "default", "help")
    for field_name, info in cls.model_fields.items():
        options.add_row(info.alias or field_name, repr(info.default), info.description or "")
    console.print(options)
    details = getattr(cls, "details", None)
    if details is not None:
        header, rows = details()
        table = Table(*header)
        for row in rows:
            table.add_row(*row)
        console.print(table)


def register(app: typer.Typer) -> None:
    app.command("stages")(stages)
