"""Call a backend from a stage: the response cache and the per-stage accounting live here.

Recipes call `complete(backend, requests, ctx)` rather than `backend.complete(...)`, so
every call is cached (when ctx.cache_dir is set) and counted in the stage's stats.

Counting follows the money: a call counts in llm.calls and the token totals when this
run paid for it. A reply paid by a killed attempt of the same run and stage comes back
from the cache on resume and still counts as this run's spending (also in
llm.paid_before_resume), since the shard that paid never recorded it; a reply another
run paid for counts as llm.cache_hits. The payer is the stage, not the shard: a redone
global stage may deal rows into other shards, and requests never repeat across rows
(each carries a seed drawn from its record id).

Around each backend call the stage's scope (run and stage) is set, so the openai backend
puts every batch of the stage under one limiter; the cache connection is one per process
and cache directory (cache.open_cache), not one per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from synthmill.llm.base import Backend, Completion, Request
from synthmill.llm.cache import Hit, ResponseCache, cache_keys, open_cache
from synthmill.llm.transport import scope
from synthmill.pipeline.stage import StageContext

# Counter names, summed per stage into stats.json and the card.
CALLS = "llm.calls"
FAILURES = "llm.failures"
TRANSIENT_FAILURES = "llm.transient_failures"
CACHE_HITS = "llm.cache_hits"
PAID_BEFORE_RESUME = "llm.paid_before_resume"
PROMPT_TOKENS = "llm.prompt_tokens"
COMPLETION_TOKENS = "llm.completion_tokens"
# On the wire (backends that report it in Completion.extra, the openai one): HTTP requests
# made, answers 429, retries, and milliseconds in flight (effective concurrency = wire time
# / the stage's wall time).
REQUESTS = "llm.requests"
STATUS_429 = "llm.status_429"
RETRIES = "llm.retries"
WIRE_MS = "llm.wire_ms"
# Calls answered per engine (`llm.engine.server`, `llm.engine.python`), for backends that
# resolve one at run time (llamacpp's `engine: auto`): the card says which one ran.
ENGINE_PREFIX = "llm.engine."


def complete(
    backend: Backend, requests: Sequence[Request], ctx: StageContext | None = None
) -> list[Completion]:
    """One completion per request, from the cache where possible; counted on ctx."""
    token = scope.set(payer_of(ctx) or (ctx.stage if ctx is not None else None))
    try:
        if ctx is None or not ctx.cache_dir:
            return _complete(backend, requests, ctx, None)
        return _complete(backend, requests, ctx, open_cache(ctx.cache_dir))
    finally:
        scope.reset(token)


def _complete(
    backend: Backend,
    requests: Sequence[Request],
    ctx: StageContext | None,
    cache: ResponseCache | None,
) -> list[Completion]:
    payer = payer_of(ctx)
    keys = cache_keys(backend, requests)
    hits = cache.get_many(keys) if cache is not None else {}
    missing = [i for i, k in enumerate(keys) if k not in hits]

    def paid(j: int, completion: Completion) -> None:
        if cache is not None:  # stored per call, so a kill mid-batch loses no paid reply
            cache.put(keys[missing[j]], completion, payer)

    fresh = backend.complete_reporting([requests[i] for i in missing], paid) if missing else []
    if len(fresh) != len(missing):
        raise RuntimeError(f"{backend.kind} returned {len(fresh)} completions for {len(missing)}")
    out = {i: c for i, c in zip(missing, fresh, strict=True)}
    done = [out[i] if i in out else hits[k].completion for i, k in enumerate(keys)]
    if ctx is not None:
        account(ctx, fresh)
        account_hits(ctx, [hits[k] for k in keys if k in hits], payer)
    return done


def payer_of(ctx: StageContext | None) -> str | None:
    """Who pays for calls made with `ctx`: its run and stage (None outside a run)."""
    return f"{ctx.run}/{ctx.stage}" if ctx is not None and ctx.run else None


def account(ctx: StageContext, completions: Sequence[Completion]) -> None:
    """Add the calls, failures and tokens of fresh `completions` to the stage's counters."""
    for c in completions:
        ctx.count(CALLS)
        if c.error is not None:
            ctx.count(FAILURES)
            ctx.count(TRANSIENT_FAILURES, int(c.transient))
        ctx.count(PROMPT_TOKENS, c.prompt_tokens)
        ctx.count(COMPLETION_TOKENS, c.completion_tokens)
        if "requests" in c.extra:  # the backend reported its HTTP traffic
            account_wire(ctx, c.extra)
        if "engine" in c.extra:  # the engine that answered (llamacpp: server or python)
            ctx.count(f"{ENGINE_PREFIX}{c.extra['engine']}")


def account_wire(ctx: StageContext, wire: dict[str, Any]) -> None:
    """HTTP requests, retries, 429s and time in flight of one call."""
    requests = int(wire.get("requests", 1))
    ctx.count(REQUESTS, requests)
    ctx.count(RETRIES, max(0, requests - 1))
    ctx.count(STATUS_429, int(wire.get("status_429", 0)))
    ctx.count(WIRE_MS, int(wire.get("wire_ms", 0)))


def account_hits(ctx: StageContext, hits: Sequence[Hit], payer: str | None) -> None:
    """Cached replies: this run's own earlier spending counts as calls, the rest as hits."""
    own = [h.completion for h in hits if payer is not None and h.payer == payer]
    ctx.count(CACHE_HITS, len(hits) - len(own))
    if own:
        ctx.count(PAID_BEFORE_RESUME, len(own))
        account(ctx, own)


def provenance(request: Request, completion: Completion) -> dict[str, Any]:
    """Meta fields for Record.child(...): model, prompt_hash, params and seed of one call."""
    params = request.params()
    for key in ("engine", "weights"):  # what really answered, never `auto`
        if key in completion.extra:
            params[key] = completion.extra[key]
    return {
        "model": completion.model,
        "prompt_hash": request.prompt_hash(),
        "params": params,
        "seed": request.seed,
    }
