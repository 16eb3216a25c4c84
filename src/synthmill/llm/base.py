"""The backend contract: a batch of Requests in, one Completion per request out.

A backend never raises for one bad call: it returns a Completion with `error` set, so
the recipe can reject that row with the reason and keep the rest of the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from synthmill.records import stable_hash


@dataclass(frozen=True)
class Request:
    """One chat completion to make. `json_schema` asks for constrained JSON output."""

    messages: tuple[dict[str, str], ...]
    json_schema: dict[str, Any] | None = None
    max_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def params(self) -> dict[str, Any]:
        """Sampling parameters, as recorded in provenance and in the cache key."""
        return {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "stop": list(self.stop),
            "json_schema": self.json_schema is not None,
        }

    def prompt_hash(self) -> str:
        return stable_hash(self.messages, self.json_schema)


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    error: str | None = None
    finish_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Backend(BaseModel):
    """Base of every backend. Options are pydantic fields; `type` names it in YAML."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    kind: ClassVar[str] = "backend"

    @property
    def model_name(self) -> str:
        """The model identifier recorded in each row's provenance."""
        raise NotImplementedError

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        raise NotImplementedError

    def to_config(self) -> dict[str, Any]:
        return {"type": self.kind, **self.model_dump(mode="json", exclude_defaults=True)}
