"""The Record: one row of data plus the provenance that says where it came from."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any, Literal

META_COLUMN = "_meta"
# In a rejection's raw payload, `transient: true` says the row failed for a reason a later
# run may not meet (a call that timed out, a server error): the runner retries it next run.
TRANSIENT_KEY = "transient"
Origin = Literal["real", "synthetic"]


def stable_hash(*parts: Any, length: int = 16) -> str:
    """A short, process-independent hash of JSON-able parts (Python's hash() is salted)."""
    blob = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.blake2b(blob.encode(), digest_size=length // 2).hexdigest()


@dataclass(frozen=True)
class Verdict:
    """What a check decided about one record."""

    ok: bool
    reason: str = ""  # a short category, counted in stats and the card
    score: float | None = None
    raw: Any = None  # details for the rejects file (what matched, the measured value)


@dataclass(frozen=True)
class Rejection:
    """Why a record was dropped, and the raw payload that made it fail.

    A transient rejection (the model call failed, timed out) is not final: the runner
    does not count its shard as finished for good and retries it on the next run.
    """

    stage: str
    reason: str
    raw: Any = None
    transient: bool = False


def is_transient(raw: Any) -> bool:
    """Whether a rejection payload marks a transient failure (`{"transient": true, ...}`)."""
    return isinstance(raw, dict) and raw.get(TRANSIENT_KEY) is True


@dataclass(frozen=True)
class Meta:
    """Provenance of a record. Open-ended parts (params, verdicts, scores) are dicts."""

    id: str
    parents: tuple[str, ...] = ()
    stage: str = ""
    origin: Origin = "real"
    seed: int | None = None
    recipe: str | None = None
    model: str | None = None
    prompt_hash: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    verdicts: dict[str, dict[str, Any]] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    rejection: Rejection | None = None

    def to_row(self, *, json_fields: bool = True) -> dict[str, Any]:
        """Flatten for storage; dict fields become JSON strings so Parquet schemas stay fixed."""
        enc = _dumps if json_fields else (lambda v: v)
        return {
            "id": self.id,
            "parents": list(self.parents),
            "stage": self.stage,
            "origin": self.origin,
            "seed": self.seed,
            "recipe": self.recipe,
            "model": self.model,
            "prompt_hash": self.prompt_hash,
            "params": enc(self.params),
            "verdicts": enc(self.verdicts),
            "scores": enc(self.scores),
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Meta:
        return cls(
            id=str(row["id"]),
            parents=tuple(row.get("parents") or ()),
            stage=row.get("stage") or "",
            origin=row.get("origin") or "real",
            seed=row.get("seed"),
            recipe=row.get("recipe"),
            model=row.get("model"),
            prompt_hash=row.get("prompt_hash"),
            params=_loads(row.get("params")),
            verdicts=_loads(row.get("verdicts")),
            scores=_loads(row.get("scores")),
        )


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _loads(value: Any) -> Any:
    if value is None or value == "":
        return {}
    return json.loads(value) if isinstance(value, str) else dict(value)


@dataclass(frozen=True)
class Record:
    """A row (column -> value) and its provenance. Immutable: stages return new records."""

    data: dict[str, Any]
    meta: Meta

    @classmethod
    def new(
        cls,
        data: dict[str, Any],
        *,
        key: Any,
        stage: str,
        origin: Origin = "synthetic",
        parents: tuple[str, ...] = (),
        **meta: Any,
    ) -> Record:
        """Make a record whose id is derived from `key`, so reruns give the same ids."""
        rid = stable_hash(stage, key, parents)
        return cls(data, Meta(id=rid, parents=parents, stage=stage, origin=origin, **meta))

    def child(self, data: dict[str, Any], *, stage: str, key: Any = 0, **meta: Any) -> Record:
        """A new synthetic record derived from this one (its id is the parent)."""
        return Record.new(data, key=key, stage=stage, parents=(self.meta.id,), **meta)

    def with_data(self, **columns: Any) -> Record:
        """The same record with some columns set; provenance unchanged."""
        return replace(self, data={**self.data, **columns})

    def with_meta(self, **fields: Any) -> Record:
        return replace(self, meta=replace(self.meta, **fields))

    def with_verdict(self, check: str, verdict: Verdict) -> Record:
        entry = {"ok": verdict.ok, "reason": verdict.reason, "score": verdict.score}
        scores = self.meta.scores
        if verdict.score is not None:
            scores = {**scores, check: verdict.score}
        return self.with_meta(verdicts={**self.meta.verdicts, check: entry}, scores=scores)

    def reject(
        self, stage: str, reason: str, raw: Any = None, *, transient: bool | None = None
    ) -> Record:
        """Mark this record as rejected; the runner routes it to the stage's rejects file.

        `transient` defaults to what the raw payload says (`transient: true`, as the llm
        layer writes for a failed call), so every stage passing it along gets it right.
        """
        if transient is None:
            transient = is_transient(raw)
        rejection = Rejection(stage=stage, reason=reason, raw=raw, transient=transient)
        return self.with_meta(rejection=rejection)

    @property
    def rejected(self) -> bool:
        return self.meta.rejection is not None

    def to_row(self, *, json_fields: bool = True) -> dict[str, Any]:
        return {**self.data, META_COLUMN: self.meta.to_row(json_fields=json_fields)}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Record:
        data = {k: v for k, v in row.items() if k != META_COLUMN}
        return cls(data, Meta.from_row(row[META_COLUMN]))
