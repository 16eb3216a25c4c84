"""Checks that come before a run writes anything, so a bad config or input writes nothing.

`check_requirements` runs when a pipeline is built (a missing optional extra fails before
any stage has worked); `preflight` runs when it is started: the output folder, the
response cache, each stage's own checks (input files readable, one type per column),
API keys named by backends, that each backend server (`base_url`) accepts a connection,
and the fingerprints of every input file for run.json. Backends are found wherever a stage
holds them (`models_within`: its own `backend`, a judge's inside a pass, in lists, mappings).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
from collections.abc import Iterator, Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from synthmill.errors import BackendError, ConfigError, MissingExtraError, RunDirError
from synthmill.pipeline.rundir import RunDir, default_cache_dir, file_fingerprint
from synthmill.pipeline.stage import Stage

if TYPE_CHECKING:
    from synthmill.pipeline.pipeline import Pipeline

CACHE_FILE = "llm-responses.sqlite"  # the response cache's database (synthmill.llm.cache)
CONNECT_SECONDS = 3.0  # how long a backend server may take to accept a connection


def nested_models(stage: Stage) -> Iterator[tuple[str, BaseModel]]:
    """(field name, model) of each model a stage holds directly in its options."""
    for name in type(stage).model_fields:
        value = getattr(stage, name, None)
        if isinstance(value, BaseModel):
            yield name, value


def models_within(obj: object, where: str) -> Iterator[tuple[str, BaseModel]]:
    """(path, model) of every pydantic model held in obj's options at any depth: a stage's
    backend, a judge's backend inside a pass (`stages.3.semantic.backend`), a model in a
    list or mapping (`stages.2.judges.1`). Paths use the dotted form of `--set`. A backend's
    own options are not walked: a backend that wraps another (batch export's recorder)
    stands in for it and calls nothing."""
    seen: set[int] = set()

    def walk(value: object, path: str) -> Iterator[tuple[str, BaseModel]]:
        if id(value) in seen:
            return
        if isinstance(value, BaseModel):
            seen.add(id(value))
            if path != where:
                yield path, value
            if path != where and _is_backend(value):
                return  # a backend is one thing to check; one that wraps another calls nothing
            for name in type(value).model_fields:
                yield from walk(getattr(value, name, None), f"{path}.{name}")
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                yield from walk(item, f"{path}.{i}")
        elif isinstance(value, dict):
            for key, item in value.items():
                yield from walk(item, f"{path}.{key}")

    yield from walk(obj, where)


def stage_models(stages: Sequence[Stage]) -> Iterator[tuple[str, BaseModel]]:
    """(path, model) of every model nested in every stage's options (see models_within)."""
    for i, stage in enumerate(stages):
        yield from models_within(stage, f"stages.{i}")


def check_requirements(stages: Sequence[Stage]) -> None:
    """Raise MissingExtraError for the first optional import a stage (or its backend) lacks."""
    for i, stage in enumerate(stages):
        for where, obj in [(f"stages.{i}", stage), *models_within(stage, f"stages.{i}")]:
            for module, package, extra in getattr(type(obj), "requires", ()):
                if not _importable(module):
                    raise MissingExtraError(package, extra, where=f"{where} ({stage.label})")


def _importable(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):  # a dotted name whose parent is missing
        return False


def preflight(pipeline: Pipeline, rundir: RunDir, overwrite: bool = False) -> dict[str, Any]:
    """Check everything a run needs before it creates a file; return the input fingerprints."""
    rundir.check_target()
    check_inputs_outside(pipeline.stages, rundir.root)
    for stage in pipeline.stages:
        stage.preflight()
    for where, model in stage_models(pipeline.stages):
        check_model(model, where)
    if pipeline.cache and any(_is_backend(m) for _, m in stage_models(pipeline.stages)):
        check_cache_dir(default_cache_dir())
    check_servers(pipeline, rundir, overwrite)
    return input_fingerprints(pipeline.stages)


def _is_backend(model: BaseModel) -> bool:
    from synthmill.llm.base import Backend

    return isinstance(model, Backend)


def check_model(model: BaseModel, where: str) -> None:
    """A nested model's own preflight(), and an API key it names that is not set."""
    env = getattr(model, "api_key_env", None)
    if isinstance(env, str) and env and not os.environ.get(env):
        raise ConfigError(
            f"{where}.api_key_env: environment variable {env} is not set; export it "
            "(or remove api_key_env for a server without a key)"
        )
    check = getattr(model, "preflight", None)
    if callable(check):
        check()


def check_servers(pipeline: Pipeline, rundir: RunDir, overwrite: bool) -> None:
    """Each backend with a `base_url` must accept a TCP connection, or the run stops here
    (BackendError, exit 2) instead of after its run directory was made. Not checked when
    the run may need no call: a finished run published again, or a response cache holding
    replies imported from an offline batch file (`synthmill batch import`)."""
    servers: dict[str, tuple[str, BaseModel]] = {}
    for where, m in stage_models(pipeline.stages):
        url = getattr(m, "base_url", None)
        if _is_backend(m) and isinstance(url, str):
            servers.setdefault(url, (where, m))  # the first place that names it
    for url, (where, backend) in servers.items():
        why = unreachable(str(url))
        if why is None or _may_need_no_call(pipeline, rundir, overwrite):
            continue
        from synthmill.llm.redact import redact

        kind = getattr(type(backend), "kind", "?")
        raise BackendError(
            f"backend {kind} ({where}) unreachable at {redact(str(url))}: {why}; "
            "start the server or fix base_url"
        )


def unreachable(url: str, seconds: float = CONNECT_SECONDS) -> str | None:
    """Why nothing accepts a connection at the URL's host and port (None when something does)."""
    import httpx

    parsed = httpx.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.host, port), timeout=seconds).close()
    except TimeoutError:
        return f"cannot connect (no answer in {seconds:g} s)"
    except OSError as exc:  # refused, unknown host (socket.gaierror), no route
        return f"cannot connect ({exc.strerror or exc})"
    return None


def _may_need_no_call(pipeline: Pipeline, rundir: RunDir, overwrite: bool) -> bool:
    """A finished run (published again, not --overwrite), or offline batch replies cached."""
    try:
        run = rundir.read_json(rundir.run_json) if not overwrite else None
    except RunDirError:
        run = None  # prepare() says what is wrong with it
    if isinstance(run, dict) and run.get("status") == "finished":
        return True
    db = default_cache_dir() / CACHE_FILE
    if not pipeline.cache or not db.is_file():
        return False
    try:
        with contextlib.closing(sqlite3.connect(db, timeout=60)) as conn:
            sql = "SELECT 1 FROM replies WHERE payer LIKE 'batch:%' LIMIT 1"
            return conn.execute(sql).fetchone() is not None
    except sqlite3.Error:
        return False


def check_cache_dir(path: Path) -> None:
    """The response cache folder must be a folder, and its database a database."""
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise ConfigError(
            f"cache directory {path}: {existing} is a file, not a folder; remove it, set "
            "SYNTHMILL_CACHE_DIR to a folder, or run with --no-cache"
        )
    db = path / CACHE_FILE
    if not db.exists():
        return
    try:
        with sqlite3.connect(db, timeout=60) as conn:
            conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise ConfigError(
            f"response cache {db} is damaged ({exc}); delete it (cached replies are lost), "
            "set SYNTHMILL_CACHE_DIR elsewhere, or run with --no-cache"
        ) from exc


def check_inputs_outside(stages: Sequence[Stage], output: Path) -> None:
    """An input inside output.dir (a glob that matches the run dir) would be the run's own
    output read back: refuse it before reading anything."""
    root = output.resolve()
    for stage in stages:
        for path in stage.input_files():
            if path.resolve().is_relative_to(root):
                raise ConfigError(
                    f"input {path} lies inside output.dir {output}, so the run would read "
                    "its own output; move output.dir out of the input folder or narrow the path"
                )


def input_fingerprints(stages: Sequence[Stage]) -> dict[str, Any]:
    """Size, mtime and content hash of every input file, by absolute path."""
    files = {str(p.resolve()): p for s in stages for p in s.input_files()}
    return {key: file_fingerprint(path) for key, path in sorted(files.items())}
