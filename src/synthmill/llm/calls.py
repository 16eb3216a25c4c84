"""Call a backend from a stage: the response cache and the per-stage accounting live here.

Recipes call `complete(backend, requests, ctx)` rather than `backend.complete(...)`, so
every call is cached (when ctx.cache_dir is set) and counted in the stage's stats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from synthmill.llm.base import Backend, Completion, Request
from synthmill.llm.cache import ResponseCache, cache_key
from synthmill.pipeline.stage import StageContext

# Counter names, summed per stage into stats.json and the card.
CALLS = "llm.calls"
FAILURES = "llm.failures"
CACHE_HITS = "llm.cache_hits"
PROMPT_TOKENS = "llm.prompt_tokens"
COMPLETION_TOKENS = "llm.completion_tokens"


def complete(
    backend: Backend, requests: Sequence[Request], ctx: StageContext | None = None
) -> list[Completion]:
    """One completion per request, from the cache where possible; counted on ctx."""
    cache = ResponseCache(ctx.cache_dir) if ctx is not None and ctx.cache_dir else None
    keys = [cache_key(backend, r) for r in requests]
    hits = cache.get_many(keys) if cache is not None else {}
    missing = [i for i, k in enumerate(keys) if k not in hits]
    fresh = backend.complete([requests[i] for i in missing]) if missing else []
    if len(fresh) != len(missing):
        raise RuntimeError(f"{backend.kind} returned {len(fresh)} completions for {len(missing)}")
    if cache is not None:
        cache.put_many({keys[i]: c for i, c in zip(missing, fresh, strict=True)})
    out = [hits.get(k) for k in keys]
    for i, completion in zip(missing, fresh, strict=True):
        out[i] = completion
    done = [c for c in out if c is not None]
    if ctx is not None:
        account(ctx, done)
    return done


def account(ctx: StageContext, completions: Sequence[Completion]) -> None:
    """Add calls, failures, cache hits and tokens of `completions` to the stage's counters."""
    for c in completions:
        if c.cached:
            ctx.count(CACHE_HITS)
            continue
        ctx.count(CALLS)
        ctx.count(FAILURES, int(c.error is not None))
        ctx.count(PROMPT_TOKENS, c.prompt_tokens)
        ctx.count(COMPLETION_TOKENS, c.completion_tokens)


def provenance(request: Request, completion: Completion) -> dict[str, Any]:
    """Meta fields for Record.child(...): model, prompt_hash, params and seed of one call."""
    return {
        "model": completion.model,
        "prompt_hash": request.prompt_hash(),
        "params": request.params(),
        "seed": request.seed,
    }
