"""Seed tasks and topics: the small set shipped with synthmill, or the user's own files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

from synthmill.errors import ConfigError

BUILTIN = "builtin"


@dataclass(frozen=True)
class SeedTask:
    """One human-written example task; `id` is what generated rows name as their parent."""

    id: str
    instruction: str
    input: str = ""
    output: str = ""


def _read_text(source: str, name: str) -> str:
    if source == BUILTIN:
        return files("synthmill").joinpath("data", name).read_text(encoding="utf-8")
    path = Path(source).expanduser()
    if not path.is_file():
        raise ConfigError(f"{source}: file not found; give a JSONL path or 'builtin'")
    return path.read_text(encoding="utf-8")


@cache
def load_seed_tasks(source: str = BUILTIN) -> tuple[SeedTask, ...]:
    """Seed tasks from JSONL lines with `instruction` (and optional id, input, output)."""
    tasks = []
    for n, line in enumerate(_read_text(source, "seed_tasks.jsonl").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            tasks.append(_task(row, n))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{source} line {n}: not a seed task ({exc}); see the README"
            ) from exc
    if not tasks:
        raise ConfigError(f"{source}: no seed tasks; add JSONL lines with an 'instruction'")
    return tuple(tasks)


def _task(row: dict[str, object], n: int) -> SeedTask:
    return SeedTask(
        id=str(row.get("id") or f"seed-{n:03d}"),
        instruction=str(row["instruction"]),
        input=str(row.get("input") or ""),
        output=str(row.get("output") or ""),
    )


@cache
def load_topics(source: str = BUILTIN) -> tuple[str, ...]:
    """Topics, one a line; they steer a small model towards diverse new tasks."""
    topics = [t.strip() for t in _read_text(source, "topics.txt").splitlines() if t.strip()]
    if not topics:
        raise ConfigError(f"{source}: no topics; write one topic a line")
    return tuple(topics)
