"""A local llama.cpp `llama-server` that the `llamacpp` backend starts, batches on and stops.

The server decodes up to `parallel` sequences in one batch (continuous batching), which on
a CPU is several times the throughput of one sequence at a time. The binary is built by
setup.sh from the llama.cpp source vendored in the llama-cpp-python sdist (same flags as
the wheel) and copied next to the venv's python as `llama-server`.

Lifecycle: started on first use on 127.0.0.1 at a free port, health-checked, restarted
once if it dies, stopped at exit (and by `stop_servers()`). It never outlives synthmill:
it is spawned from one long-lived thread with PR_SET_PDEATHSIG=SIGKILL, so even a
`kill -9` of synthmill takes it down. One server per process and settings.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from synthmill.llm.base import BackendError, Completion, OnDone, Request
from synthmill.llm.grammar_limits import compact_grammar, grammar_candidates

log = logging.getLogger(__name__)

BINARY = "llama-server"
ENV_BINARY = "SYNTHMILL_LLAMA_SERVER"
START_SECONDS = 120.0
# Calls of one batch in flight at once. Past the `parallel` slots the server queues them;
# with the stage's batches in flight (LlamaCppBackend.batches_in_flight) that keeps every
# slot busy until the stage runs out of rows. Waiting calls cost a thread and a socket.
MAX_CALLS_PER_BATCH = 64
SPIN_COUNT = 3000  # GNU OpenMP spin rounds before a waiting server thread sleeps (~30 us)
_PR_SET_PDEATHSIG = 1


def find_binary(explicit: str | None = None) -> Path | None:
    """The llama-server to run: the option, $SYNTHMILL_LLAMA_SERVER, or the venv's."""
    for candidate in (explicit, os.environ.get(ENV_BINARY)):
        if candidate:
            return Path(candidate)
    found = Path(sys.prefix) / "bin" / BINARY
    return found if found.is_file() and os.access(found, os.X_OK) else None


@dataclass(frozen=True)
class ServerSettings:
    """What a server is started with; one server per distinct settings per process."""

    binary: str
    model_path: str
    n_ctx: int
    n_threads: int
    parallel: int

    def args(self, port: int) -> list[str]:
        # Each slot gets its own n_ctx (no unified KV: attention scans only its sequence).
        args = [self.binary, "--model", self.model_path, "--host", "127.0.0.1"]
        args += ["--port", str(port), "--parallel", str(self.parallel), "--no-kv-unified"]
        args += ["--ctx-size", str(self.n_ctx * self.parallel)]
        args += ["--threads", str(self.n_threads), "--threads-batch", str(self.n_threads)]
        # --no-repack: weight repacking uses AMX tiles, SIGILL on some CPUs (as the wheel).
        # The prompt cache is on: a slot reuses the KV of the prefix its last prompt shares
        # (system prompt, template), 40% less server CPU on the quickstart's questions, and
        # the same replies (tested: a reply does not depend on what the slot held before).
        args += ["--no-repack", "--no-webui", "--jinja", "--seed", "0"]
        return args


class LlamaServer:
    """One llama-server process: start, health, restart once, stop."""

    max_restarts = 1

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.restarts = 0
        self.grammar_index: dict[str, int] = {}  # schema -> first candidate the server takes
        fd, name = tempfile.mkstemp(prefix="synthmill-llama-server-", suffix=".log")
        os.close(fd)
        self._log = Path(name)  # the server's output, for the error message when it fails
        self.client = httpx.Client(
            timeout=httpx.Timeout(600.0, connect=5.0),
            # a stage runs several batches at once (batches_in_flight), each with all its
            # calls in flight; past the limit a call waits for a connection here, harmlessly
            limits=httpx.Limits(max_connections=max(64, 4 * settings.parallel + 4)),
        )

    def ensure(self) -> str:
        """The base URL of a live server, started on first use (BackendError if it cannot)."""
        with self.lock:
            if self.proc is None:
                self._start()
            return self.url

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def revive(self, seen_url: str) -> bool:
        """After a failed call: restart a dead server once; whether a retry makes sense."""
        with self.lock:
            if self.url != seen_url and self.alive():
                return True  # another thread already restarted it
            if self.alive():
                return False  # it is up: the call failed for another reason
            if self.restarts >= self.max_restarts:
                return False
            self.restarts += 1
            log.warning("llama-server died (%s); restarting it once", self._exit_note())
            try:
                self._start()
            except BackendError as exc:
                log.warning("llama-server did not come back: %s", exc)
                return False
            return True

    def stop(self) -> None:
        with self.lock:
            proc, self.proc = self.proc, None
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.client.close()
        self._log.unlink(missing_ok=True)

    # ---- internals ----------------------------------------------------------------------
    def _start(self) -> None:
        binary = Path(self.settings.binary)
        if not (binary.is_file() and os.access(binary, os.X_OK)):
            raise BackendError(
                f"llamacpp: no llama-server at {binary}; run ./setup.sh to build it, "
                "or set engine: python"
            )
        for _ in range(3):  # a port taken between the pick and the bind: pick again
            port = free_port()
            self.proc = _spawn(self.settings.args(port), self._log)
            self.url = f"http://127.0.0.1:{port}"
            if self._wait_healthy():
                log.info("llama-server ready at %s (pid %d)", self.url, self.proc.pid)
                return
            if "bind" not in self._tail():
                break
        raise BackendError(f"llamacpp: llama-server did not start ({self._exit_note()})")

    def _wait_healthy(self) -> bool:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                if self.client.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        return False

    def _exit_note(self) -> str:
        code = self.proc.poll() if self.proc is not None else None
        last = self._tail().strip().splitlines()[-1:] or ["no output"]
        return f"exit code {code}, last log line: {last[0][:200]}"

    def _tail(self) -> str:
        try:
            with self._log.open("rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - 4000))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- spawning: from one thread that lives as long as the process --------------------------
# PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, so children are
# forked from a dedicated thread, never from a worker thread of a stage's pool.
_SPAWNER: dict[int, ThreadPoolExecutor] = {}
_SPAWNER_LOCK = threading.Lock()


def _spawn(args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with _SPAWNER_LOCK:
        pool = _SPAWNER.get(os.getpid())
        if pool is None:
            pool = _SPAWNER[os.getpid()] = ThreadPoolExecutor(1, "synthmill-llama-spawner")
    return pool.submit(_popen, args, log_path).result()


def server_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The server's environment: its OpenMP threads spin briefly, then sleep.

    Between the ops of a decode step (tens of microseconds each for a small model) a
    thread that sleeps pays a wake-up; one that spins long starves other work on a busy
    machine (spinning in-process threads: 1.1 vs 45 tokens/s on a loaded 2-core box).
    GNU libgomp (what setup.sh's build links) spins GOMP_SPINCOUNT rounds, ~30 us for
    3000, then sleeps; other OpenMP runtimes read OMP_WAIT_POLICY=PASSIVE and sleep at
    once. Measured on the quickstart, 2 cores, 8 slots: idle, 1.35-1.75x the tokens/s of
    sleeping at once, about what libgomp's own default (300,000 rounds) gives; with two
    busy loops beside it, 53 vs 51 tokens/s, where libgomp's default falls to 21. A
    user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT is left as it is.
    """
    env = dict(environ)
    if "OMP_WAIT_POLICY" not in env and "GOMP_SPINCOUNT" not in env:
        env |= {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": str(SPIN_COUNT)}
    return env


def _popen(args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as out:
        return subprocess.Popen(
            args,
            env=server_env(os.environ),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the parent goes, even by kill -9."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


# ---- the process-level table ----------------------------------------------------------------
_SERVERS: dict[tuple[int, ServerSettings], LlamaServer] = {}
_TABLE_LOCK = threading.Lock()
_AT_EXIT: set[int] = set()  # the pids that registered stop_servers at exit


def get_server(settings: ServerSettings) -> LlamaServer:
    """This process's server for these settings (created, not yet started, on first ask)."""
    key = (os.getpid(), settings)
    with _TABLE_LOCK:
        if os.getpid() not in _AT_EXIT:
            _AT_EXIT.add(os.getpid())
            atexit.register(stop_servers)
        server = _SERVERS.get(key)
        if server is None:
            server = _SERVERS[key] = LlamaServer(settings)
        return server


def stop_servers() -> None:
    """Stop every server this process started (at exit, and at the end of a run)."""
    with _TABLE_LOCK:
        mine = [k for k in _SERVERS if k[0] == os.getpid()]
        servers = [_SERVERS.pop(k) for k in mine]
    for server in servers:
        server.stop()


def post(server: LlamaServer, path: str, body: dict[str, Any]) -> httpx.Response:
    """POST to the live server; a dead server is restarted once and the call made again."""
    url = server.ensure()
    try:
        return server.client.post(f"{url}{path}", json=body)
    except httpx.TransportError:
        if not server.revive(url):
            raise
    return server.client.post(f"{server.ensure()}{path}", json=body)


# ---- requests: many in flight, each reported as it lands ----------------------------------
# llama-cpp-python's defaults, so that both engines sample with the same chain settings.
_SAMPLING = {"top_k": 40, "min_p": 0.05, "repeat_penalty": 1.0, "cache_prompt": True}


class ServerEngine:
    """Answers a batch of Requests on a LlamaServer, `parallel` calls in flight at once."""

    def __init__(self, server: LlamaServer, model_name: str, default_seed: int) -> None:
        self.server = server
        self.model_name = model_name
        self.default_seed = default_seed

    def complete_each(self, requests: Sequence[Request], on_done: OnDone) -> list[Completion]:
        """All calls at once (the server queues past its slots, so a slot that frees takes
        the next call without a round trip to us); on_done in this thread."""
        if not requests:
            return []
        self.server.ensure()  # a server that cannot start is a BackendError, not N errors
        out: list[Completion | None] = [None] * len(requests)
        workers = min(len(requests), MAX_CALLS_PER_BATCH)
        with ThreadPoolExecutor(workers, "synthmill-llamacpp") as pool:
            futures = {pool.submit(self.one, r): i for i, r in enumerate(requests)}
            for future in as_completed(futures):
                i, completion = futures[future], future.result()
                out[i] = completion
                on_done(i, completion)  # the cache is written from the caller's thread
        return [c for c in out if c is not None]

    def one(self, request: Request) -> Completion:
        if request.json_schema is None:
            return self._call(request, None)
        schemas = grammar_candidates(request.json_schema)
        start = self.server.grammar_index.get(_key(request.json_schema), 0)
        for index in range(start, len(schemas)):
            completion = self._call(request, schemas[index])
            if not _grammar_refused(completion):
                self.server.grammar_index[_key(request.json_schema)] = index
                return completion
        return self._error("the JSON schema is too complex for llama.cpp's grammar parser")

    def _call(self, request: Request, schema: dict[str, Any] | None) -> Completion:
        path, body = self.body(request, schema)
        try:
            response = post(self.server, path, body)
        except httpx.TransportError as exc:
            return self._error(f"llama-server is gone ({type(exc).__name__})", transient=True)
        if response.status_code != 200:
            transient = response.status_code >= 500 and response.status_code != 501
            return self._error(f"HTTP {response.status_code}: {_message(response)}", transient)
        return self._completion(request, response.json())

    def body(self, request: Request, schema: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        """The endpoint and JSON body: chat, or /v1/completions for a raw prompt."""
        body: dict[str, Any] = {
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": self.default_seed if request.seed is None else request.seed,
            **_SAMPLING,
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if schema is not None:
            grammar = compact_grammar(schema)
            if grammar is None:
                body["json_schema"] = schema
            else:
                body["grammar"] = grammar
        if request.prompt is not None:
            return "/v1/completions", {**body, "prompt": request.prompt}
        return "/v1/chat/completions", {**body, "messages": [dict(m) for m in request.messages]}

    def _completion(self, request: Request, reply: dict[str, Any]) -> Completion:
        choice = reply["choices"][0]
        usage = reply.get("usage") or {}
        text = choice.get("text") if request.prompt is not None else choice["message"]["content"]
        return Completion(
            text=str(text or ""),
            model=self.model_name,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason=choice.get("finish_reason"),
        )

    def _error(self, message: str, transient: bool = False) -> Completion:
        return Completion(
            "",
            self.model_name,
            error=f"llamacpp: {message}",
            transient=transient,
            finish_reason="error",
        )


def _key(schema: dict[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True)


def _grammar_refused(completion: Completion) -> bool:
    error = (completion.error or "").lower()
    return "http 400" in error and ("grammar" in error or "sampler" in error)


def _message(response: httpx.Response) -> str:
    try:
        found = response.json().get("error", {})
    except ValueError:
        return response.text[:300]
    return str(found.get("message", found) if isinstance(found, dict) else found)[:300]
