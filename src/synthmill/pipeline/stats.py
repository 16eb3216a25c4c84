"""Per-stage statistics: rows in and out, rejects by reason, time, and free counters.

`transient` counts the rejects that are not final (a failed model call): the next run
retries them, and too many of them end the run with exit code 3.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StageStats:
    rows_in: int = 0
    rows_out: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    transient: int = 0  # of the rejected rows, those rejected for transient reasons
    seconds: float = 0.0  # summed over batches (more than wall time when batches overlap)
    wall: float = 0.0  # wall-clock seconds the stage ran
    batches: int = 0
    counters: Counter[str] = field(default_factory=Counter)

    def add(self, other: StageStats) -> None:
        self.rows_in += other.rows_in
        self.rows_out += other.rows_out
        self.rejected.update(other.rejected)
        self.transient += other.transient
        self.seconds += other.seconds
        self.wall += other.wall
        self.batches += other.batches
        self.counters.update(other.counters)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "rejected": dict(sorted(self.rejected.items())),
            "rejected_total": sum(self.rejected.values()),
            "rejected_transient": self.transient,
            "seconds": round(self.seconds, 4),
            "wall_seconds": round(self.wall, 4),
            "batches": self.batches,
            "counters": dict(sorted(self.counters.items())),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StageStats:
        return cls(
            rows_in=d["rows_in"],
            rows_out=d["rows_out"],
            rejected=Counter(d.get("rejected", {})),
            transient=d.get("rejected_transient", 0),
            seconds=d.get("seconds", 0.0),
            wall=d.get("wall_seconds", 0.0),
            batches=d.get("batches", 0),
            counters=Counter(d.get("counters", {})),
        )


def merge(per_part: list[dict[str, dict[str, Any]]], order: list[str]) -> dict[str, StageStats]:
    """Sum stage stats from many shards, keeping the pipeline's stage order."""
    total = {label: StageStats() for label in order}
    for part in per_part:
        for label, d in part.items():
            total.setdefault(label, StageStats()).add(StageStats.from_dict(d))
    return total
