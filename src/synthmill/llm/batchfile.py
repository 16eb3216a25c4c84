"""Offline batch files: a run's pending model calls out as OpenAI Batch API JSONL, replies in.

    synthmill batch export PIPELINE.yaml -o requests.jsonl    # what the run would call
    (answer it: OpenAI's Batch API, or vLLM's `run_batch -i requests.jsonl -o results.jsonl`)
    synthmill batch import results.jsonl                      # replies into the cache
    synthmill run PIPELINE.yaml                               # completes from the cache

How pending calls are found: a dry run. The pipeline runs in a scratch directory with
every backend wrapped in a `Recorder`, which calls nothing: the response cache answers what
it can as usual, and each call it cannot answer is written down (its cache key is the
line's `custom_id`) and fails as transient, so its row stops there. A later stage whose
calls depend on replies (a second `generate`, a structured-output retry, a judge) sees
those calls only once the first replies are imported: export, answer and import again
until export finds nothing, then run. Each exported call is remembered in the cache
(`pending` table: model name and stage), so import needs only the results file.

Bodies are what the openai backend would send; structured output uses the backend's
`structured` dialect, or `json_schema` (what the OpenAI Batch API and vLLM accept) when it
is `auto`, since nothing is probed offline. A reply imported for a call counts as a cache
hit, not a call, in the run that uses it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from synthmill.errors import ConfigError, DataError
from synthmill.llm.base import Backend, Completion, Request
from synthmill.llm.cache import cache_keys, open_cache
from synthmill.llm.openai import Dialect, OpenAIBackend, to_completion, to_raw_completion

PENDING = "pending: exported to an offline batch file (synthmill batch export)"
CHAT_URL = "/v1/chat/completions"
RAW_URL = "/v1/completions"
_WRITE_LOCK = threading.Lock()


class Recorder(Backend):
    """Stands in for a backend in a dry run: writes each call down instead of making it."""

    kind: ClassVar[str] = "batch-recorder"
    inner: Backend
    stage: str
    folder: str
    dialect: str = "json_schema"

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    def cache_identity(self) -> dict[str, Any]:
        return self.inner.cache_identity()  # so the cache keys are the real backend's

    def supports_raw(self) -> bool:
        return self.inner.supports_raw()

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        keys = cache_keys(self.inner, requests)
        lines = [
            {"line": batch_line(self.inner, key, r, self.dialect), "stage": self.stage}
            for key, r in zip(keys, requests, strict=True)
        ]
        path = Path(self.folder) / f"calls-{os.getpid()}.jsonl"
        with _WRITE_LOCK, path.open("a", encoding="utf-8") as fh:
            fh.writelines(json.dumps(x, ensure_ascii=False) + "\n" for x in lines)
        failed = Completion(
            "", self.model_name, error=PENDING, transient=True, finish_reason="error"
        )
        return [failed for _ in requests]


def batch_line(backend: Backend, key: str, request: Request, dialect: str) -> dict[str, Any]:
    """One OpenAI Batch API request line: custom_id (the cache key), method, url, body."""
    sender = (
        backend if isinstance(backend, OpenAIBackend) else OpenAIBackend(model=backend.model_name)
    )
    if request.prompt is not None:
        return {
            "custom_id": key,
            "method": "POST",
            "url": RAW_URL,
            "body": sender.raw_body(request),
        }
    chosen: Dialect = dialect  # type: ignore[assignment]
    if isinstance(backend, OpenAIBackend) and backend.structured != "auto":
        chosen = backend.structured
    body = sender.body(request, chosen)
    return {"custom_id": key, "method": "POST", "url": CHAT_URL, "body": body}


@dataclass
class Exported:
    path: Path
    requests: int = 0
    by_stage: Counter[str] = field(default_factory=Counter)


def export_pending(
    pipeline: Any, out: Path, stage: str | None = None, dialect: str = "json_schema"
) -> Exported:
    """Dry-run `pipeline` and write the calls the cache cannot answer to `out` (JSONL)."""
    from synthmill.pipeline.progress import LogProgress

    if not pipeline.cache:
        raise ConfigError("cache: false: a run would not read imported replies; drop it")
    labels = [s.label for s in pipeline.stages]
    if stage is not None and stage not in labels:
        raise ConfigError(f"--stage {stage!r}: no such stage; stages: {', '.join(labels)}")
    scratch = Path(tempfile.mkdtemp(prefix="synthmill-batch-"))
    try:
        folder = scratch / "calls"
        folder.mkdir()
        dry = _dry_pipeline(pipeline, scratch, folder, dialect)
        dry.run(progress=LogProgress())
        lines = list(_recorded(folder, stage))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return _write(lines, out)


def _dry_pipeline(pipeline: Any, scratch: Path, folder: Path, dialect: str) -> Any:
    stages = []
    wrapped = 0
    for s in pipeline.stages:
        update = {}
        for name in type(s).model_fields:
            value = getattr(s, name, None)
            if isinstance(value, Backend):
                update[name] = Recorder(
                    inner=value, stage=s.label, folder=str(folder), dialect=dialect
                )
        wrapped += len(update)
        stages.append(s.model_copy(update=update))
    if not wrapped:
        raise ConfigError("no stage of this pipeline calls a model: nothing to export")
    output = pipeline.output.model_copy(update={"dir": scratch / "run"})
    # the dry run fails every call it cannot answer: no exit 3, and no refusal to publish
    # the empty dataset that leaves
    quiet = {"max_failed_share": 1.0, "allow_empty": True}
    return pipeline.model_copy(update={"stages": stages, "output": output, **quiet})


def _recorded(folder: Path, stage: str | None) -> Iterator[dict[str, Any]]:
    seen: set[str] = set()
    for path in sorted(folder.glob("calls-*.jsonl")):
        for text in path.read_text(encoding="utf-8").split("\n"):
            if not text.strip():
                continue
            item = json.loads(text)
            key = item["line"]["custom_id"]
            if (stage is None or item["stage"] == stage) and key not in seen:
                seen.add(key)
                yield item


def _write(items: list[dict[str, Any]], out: Path) -> Exported:
    from synthmill.pipeline.rundir import default_cache_dir

    result = Exported(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item["line"], ensure_ascii=False) + "\n")
            result.by_stage[item["stage"]] += 1
    result.requests = len(items)
    if items:
        pending = [(i["line"]["custom_id"], i["line"]["body"]["model"], i["stage"]) for i in items]
        open_cache(default_cache_dir()).add_pending(pending)
    return result


@dataclass
class Imported:
    replies: int = 0  # stored in the cache
    failed: int = 0  # lines with an error or a non-200 status: still pending
    unknown: int = 0  # custom_ids no export of this cache wrote
    errors: Counter[str] = field(default_factory=Counter)


def import_results(path: Path) -> Imported:
    """Store each successful reply of a Batch API output file in the response cache."""
    from synthmill.pipeline.rundir import default_cache_dir

    lines = _read_results(path)
    cache = open_cache(default_cache_dir())
    pending = cache.pending([str(line.get("custom_id")) for line in lines])
    result = Imported()
    done: list[str] = []
    for line in lines:
        key = str(line.get("custom_id"))
        if key not in pending:
            result.unknown += 1
            continue
        completion, error = _completion(line, pending[key][0])
        if completion is None:
            result.failed += 1
            result.errors[error] += 1
            continue
        cache.put(key, completion, f"batch:{path.name}")
        done.append(key)
    cache.drop_pending(done)
    result.replies = len(done)
    return result


def _read_results(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise DataError(f"{path}: no such file (the Batch API's output JSONL)")
    lines = []
    for n, text in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except json.JSONDecodeError:
            raise DataError(f"{path}:{n}: not a JSON line; expected Batch API output") from None
        if not isinstance(line, dict) or "custom_id" not in line:
            raise DataError(f"{path}:{n}: no custom_id; expected Batch API output lines")
        lines.append(line)
    return lines


def _completion(line: dict[str, Any], model: str) -> tuple[Completion | None, str]:
    """The Completion of one output line, or None and why there is none."""
    response = line.get("response") or {}
    if line.get("error"):
        return None, str((line["error"] or {}).get("code") or "error")
    status = response.get("status_code")
    body = response.get("body")
    if status != 200 or not isinstance(body, dict):
        return None, f"status {status}"
    try:
        choice = body["choices"][0]
        raw = "text" in choice and "message" not in choice
        convert = to_raw_completion if raw else to_completion
        return convert(body, model), ""
    except (KeyError, IndexError, TypeError):
        return None, "malformed body"
