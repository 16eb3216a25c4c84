"""Model backends: what to ask lives in recipes; a backend only turns requests into text.

How a recipe uses this package:

    from synthmill.llm import (BackendField, Request, backend_option, complete,
                               complete_structured, provenance)

    class SelfInstruct(Source):
        backend: BackendField = backend_option()   # YAML dict, Backend object, or None
        ...
        def process(self, batch, ctx):
            reqs = [Request(messages=(...,), seed=ctx.rng(r.meta.id).randrange(2**31))
                    for r in batch]
            results = complete_structured(self.backend, reqs, MyModel, ctx, retries=2)
            for record, res in zip(batch, results):
                if res.ok:     # res.value is a validated MyModel
                    out.append(record.child({...}, stage=self.label, **res.provenance()))
                else:          # short reason category; raw output and error in the payload
                    out.append(record.reject(self.label, res.reason, raw=res.rejection()))

- `complete(backend, requests, ctx)` -> one `Completion` per request (plain text);
  it uses the response cache in ctx.cache_dir (each reply stored as soon as it is paid)
  and counts llm.calls, llm.failures, llm.transient_failures, llm.cache_hits,
  llm.paid_before_resume, llm.prompt_tokens, llm.completion_tokens on ctx. Never call
  `backend.complete` directly from a stage, or calls are neither cached nor counted.
- A failed call's Completion has `error` set and `transient=True` when a later run may
  succeed; pass `res.rejection()` as the raw payload of `record.reject(...)` and the
  runner retries that row on the next run (content failures stay final).
- Backend authors implement `complete(requests)`; optionally `complete_each(requests,
  on_done)` to report each call as it finishes, `speed_options` (options kept out of
  the cache key) and `cache_identity()` (what else changes a reply). A backend that
  cannot be used at all raises `BackendError`.
- `complete_structured(...)` asks for JSON matching a pydantic model (constrained by
  its JSON schema), retries with the validation error fed back, and counts
  structured.ok_first_try / structured.ok_after_retry / structured.failed.
- `provenance(request, completion)` -> {model, prompt_hash, params, seed} for
  `Record.child(..., **meta)`.
- Vary `Request.seed` per row (from ctx.rng(record id)) when the same prompt must give
  different rows: the cache key includes the seed, so equal requests give equal replies.
- `make_backend({"type": "fake", "replies": [...]})` builds any backend; the fake one
  is deterministic (reply picked by request hash) for unit tests of recipe logic.
"""

from synthmill.llm.base import Backend, BackendError, Completion, Request
from synthmill.llm.calls import complete, provenance
from synthmill.llm.registry import BackendField, backend_option, make_backend
from synthmill.llm.structured import Structured, complete_structured

__all__ = [
    "Backend",
    "BackendError",
    "BackendField",
    "Completion",
    "Request",
    "Structured",
    "backend_option",
    "complete",
    "complete_structured",
    "make_backend",
    "provenance",
]
