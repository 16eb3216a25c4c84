"""The backend contract: a batch of Requests in, one Completion per request out.

A backend never raises for one bad call: it returns a Completion with `error` set, so
the recipe can reject that row with the reason and keep the rest of the batch. It marks
the error `transient` when a later run may succeed (timeouts, 5xx, a server gone), so
the row is retried on the next run instead of being rejected for good. A backend that
cannot be used at all (nothing listens at its URL, the key is refused) raises
BackendError, a one-line config error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from synthmill.errors import BackendError
from synthmill.records import stable_hash

__all__ = ["Backend", "BackendError", "Completion", "OnDone", "Request"]


@dataclass(frozen=True)
class Request:
    """One chat completion to make. `json_schema` asks for constrained JSON output.

    With `prompt` set (and `messages` empty) it is a raw text completion instead: the
    prompt goes to the model as it is, with no chat template around it (Magpie sends a
    chat template's user-turn opening this way). Only backends whose supports_raw() is
    true take such requests.
    """

    messages: tuple[dict[str, str], ...]
    json_schema: dict[str, Any] | None = None
    max_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    prompt: str | None = None  # raw text completion: no chat template

    def params(self) -> dict[str, Any]:
        """Sampling parameters, as recorded in provenance and in the cache key."""
        params = {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "stop": list(self.stop),
            "json_schema": self.json_schema is not None,
        }
        if self.prompt is not None:  # only then: chat requests keep their cache keys
            params["raw"] = True
        return params

    def prompt_hash(self) -> str:
        if self.prompt is not None:
            return stable_hash(self.messages, self.json_schema, self.prompt)
        return stable_hash(self.messages, self.json_schema)


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    error: str | None = None
    transient: bool = False  # the error may go away on a later run (timeout, 5xx, outage)
    finish_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


OnDone = Callable[[int, Completion], None]
"""Called with (index in the batch, completion) as soon as each call has finished."""


class Backend(BaseModel):
    """Base of every backend. Options are pydantic fields; `type` names it in YAML."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    kind: ClassVar[str] = "backend"
    # Options that change speed or robustness but never a reply; kept out of the cache key.
    speed_options: ClassVar[frozenset[str]] = frozenset()

    @property
    def model_name(self) -> str:
        """The model identifier recorded in each row's provenance."""
        raise NotImplementedError

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        raise NotImplementedError

    def supports_raw(self) -> bool:
        """Whether complete() takes raw text completions (requests with `prompt` set).

        A recipe that needs them (magpie) checks this when its config is read, so a
        backend without them fails before a run starts. Override to return True.
        """
        return False

    def chat_template(self) -> str | None:
        """The model's own chat template (Jinja source) when the backend can read it."""
        return None

    def complete_each(self, requests: Sequence[Request], on_done: OnDone) -> list[Completion]:
        """complete(), calling on_done per finished call, so each reply is cached when paid.

        Backends that answer one call at a time override this to report each as it lands;
        the default reports them when the whole batch is back.
        """
        completions = self.complete(requests)
        for i, completion in enumerate(completions):
            on_done(i, completion)
        return completions

    def complete_reporting(self, requests: Sequence[Request], on_done: OnDone) -> list[Completion]:
        """complete_each(), unless a subclass overrode only complete(): then that one runs.

        (A test double that subclasses a streaming backend and replaces complete() must
        not be bypassed by its parent's complete_each.)
        """
        mro = type(self).__mro__
        each = next(i for i, c in enumerate(mro) if "complete_each" in c.__dict__)
        plain = next(i for i, c in enumerate(mro) if "complete" in c.__dict__)
        if each <= plain:
            return self.complete_each(requests, on_done)
        return Backend.complete_each(self, requests, on_done)

    def cache_identity(self) -> dict[str, Any]:
        """Everything about this backend that can change a reply (the response cache key)."""
        options = self.model_dump(mode="json", exclude=set(self.speed_options))
        return {"type": self.kind, **options}

    def to_config(self) -> dict[str, Any]:
        return {"type": self.kind, **self.model_dump(mode="json", exclude_defaults=True)}
