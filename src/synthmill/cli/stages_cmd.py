"""`synthmill stages`: list every stage that a pipeline can `use:`."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.table import Table

from synthmill.pipeline.registry import stage_class, stage_names


def stages() -> None:
    """List installed stages (built-in and plugins) with their options."""
    table = Table("use", "options", "what it does")
    for name in sorted(stage_names()):
        cls = stage_class(name)
        base = {"name", "batch_size", "concurrency", "executor"}
        options = ", ".join(f for f in cls.model_fields if f not in base)
        doc = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "").strip()
        doc = doc.splitlines()[0] if doc else ""
        table.add_row(name, options, doc)
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("stages")(stages)
