"""The llamacpp backend's llama-server engine: lifecycle, batching, structured output.

A real llama-server (built by setup.sh into the venv) with the real SmolLM2 model on
127.0.0.1; one server per settings is shared by the tests in this process.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from synthmill.llm import Request, complete, complete_structured
from synthmill.llm.base import BackendError
from synthmill.llm.cache import cache_keys
from synthmill.llm.llamacpp import LlamaCppBackend
from synthmill.llm.llamacpp_server import (
    SPIN_COUNT,
    LlamaServer,
    ServerSettings,
    find_binary,
    get_server,
    server_env,
    stop_servers,
)
from synthmill.pipeline.stage import StageContext
from tests.llm.stages import QA

pytestmark = [pytest.mark.model, pytest.mark.slow, pytest.mark.server]
REPO = Path(__file__).resolve().parents[2]


def _server_backend(parallel: int = 4) -> LlamaCppBackend:
    return LlamaCppBackend(n_threads=1, engine="server", parallel=parallel)


def _ask(text: str, seed: int, max_tokens: int = 48) -> Request:
    return Request(messages=({"role": "user", "content": text},), max_tokens=max_tokens, seed=seed)


def _gone(pid: int) -> bool:
    """Whether pid is gone (or a zombie waiting for its parent to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def test_setup_built_the_server_binary() -> None:
    binary = find_binary()
    assert binary is not None, "./setup.sh builds llama-server into .venv/bin"
    assert LlamaCppBackend().resolved_engine() == "server"  # auto picks it


def test_starts_on_first_use_health_checks_restarts_once_then_transient() -> None:
    backend = _server_backend(parallel=2)
    settings = ServerSettings(str(find_binary()), backend.resolved_path(), 2048, 1, 2)
    server = LlamaServer(settings)  # its own instance: killed on purpose below
    try:
        assert server.proc is None  # nothing runs before first use
        url = server.ensure()
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/health").status_code == 200
        engine = backend.server_engine()
        engine.server = server
        first = engine.one(_ask("Name a fruit.", 1))
        assert first.error is None and first.text
        assert server.proc is not None
        server.proc.kill()
        server.proc.wait()
        again = engine.one(_ask("Name a fruit.", 1))  # restarted once, the call made again
        assert again.error is None and again.text == first.text
        assert server.restarts == 1 and server.alive() and server.url != url
        server.proc.kill()
        server.proc.wait()
        dead = engine.one(_ask("Name a fruit.", 1))  # no second restart: a transient error
        assert dead.error is not None and dead.transient and "llama-server" in dead.error
    finally:
        pid = server.proc.pid if server.proc else None
        server.stop()
    assert pid is None or _gone(pid)


def test_no_orphan_after_kill_9_of_synthmill(tmp_path: Path) -> None:
    """A synthmill process that started the server from a worker thread is kill -9'd."""
    script = tmp_path / "child.py"
    script.write_text(
        "import sys, threading, time\n"
        "from synthmill.llm.llamacpp import LlamaCppBackend\n"
        "b = LlamaCppBackend(n_threads=1, engine='server', parallel=1)\n"
        "box = []\n"
        "t = threading.Thread(target=lambda: box.append(b.server_engine().server.ensure()))\n"
        "t.start(); t.join()  # the thread that asked is gone: the server must live on\n"
        "time.sleep(1)\n"
        "s = b.server_engine().server\n"
        "print(s.proc.pid, s.url, s.alive(), flush=True)\n"
        "time.sleep(600)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        pid_text, url, alive = proc.stdout.readline().decode().split()
        assert alive == "True"
        assert httpx.get(f"{url}/health").status_code == 200
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    pid = int(pid_text)
    deadline = time.monotonic() + 10
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(pid), "llama-server outlived a kill -9 of its parent"


def test_batched_structured_output_same_seeds_same_rows() -> None:
    """JSON-schema output through the batched path; replies do not depend on batching."""
    requests = [_ask(f"Write a quiz question about topic {i} and its answer.", i, 80)
                for i in range(6)]  # fmt: skip
    batched = complete_structured(_server_backend(parallel=4), requests, QA, retries=0)
    assert sum(r.ok for r in batched) >= 3, [r.rejection() for r in batched]
    for r in batched:
        if r.ok:
            assert set(json.loads(r.raw)) == {"question", "answer"}
    one_by_one = [complete_structured(_server_backend(1), [q], QA, retries=0)[0] for q in requests]
    assert [r.raw for r in batched] == [r.raw for r in one_by_one]


def test_json_replies_are_compact_as_on_the_python_engine() -> None:
    """The server samples with llama-cpp-python's grammar (one optional space between JSON
    tokens); its own converter let the model pad replies with newlines and 20-space runs."""
    requests = [_ask(f"Write a quiz question about topic {i} and its answer.", i, 80)
                for i in range(4)]  # fmt: skip
    replies = complete_structured(_server_backend(parallel=4), requests, QA, retries=0)
    raws = [r.raw for r in replies if r.raw]
    assert len(raws) >= 3, [r.rejection() for r in replies]
    for raw in raws:
        outside_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', raw)
        assert not re.search(r"\s\s|\n", outside_strings), raw


def test_large_schema_bounds_do_not_crash_the_server() -> None:
    schema = {
        "type": "object",
        "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 5000}},
        "required": ["text"],
    }
    request = Request(
        messages=({"role": "user", "content": "Say hi as JSON."},),
        json_schema=schema,
        max_tokens=24,
        seed=3,
    )
    backend = _server_backend(parallel=2)
    (reply,) = backend.complete([request])
    assert reply.error is None, reply.error
    assert reply.text.startswith("{")
    assert backend.server_engine().server.alive()


def test_raw_text_completion_on_the_server() -> None:
    request = Request(messages=(), prompt="<|im_start|>user\n", max_tokens=24, seed=5)
    backend = _server_backend(parallel=2)
    assert backend.supports_raw()
    (reply,) = backend.complete([request])
    assert reply.error is None and reply.completion_tokens > 0
    assert reply.prompt_tokens <= 4  # <|im_start|> is one special token, not its letters


def test_stats_and_cache_identity() -> None:
    ctx_requests = [_ask("Name a color.", i) for i in range(3)]
    ctx = StageContext(seed=0, stage="t")
    replies = complete(_server_backend(parallel=2), ctx_requests, ctx)
    assert all(r.error is None for r in replies)
    assert ctx.counters["llm.calls"] == 3 and ctx.counters["llm.completion_tokens"] > 0
    assert ctx.counters["llm.prompt_tokens"] >= 3 * 5
    # parallelism is not in the key (same replies); the engine is (other sampler code)
    key = cache_keys(_server_backend(parallel=2), ctx_requests[:1])
    assert key == cache_keys(_server_backend(parallel=8), ctx_requests[:1])
    python = LlamaCppBackend(n_threads=1, engine="python")
    assert key != cache_keys(python, ctx_requests[:1])
    assert "engine" not in python.cache_identity() and "parallel" not in python.cache_identity()


def test_too_long_prompt_is_an_error_not_a_crash() -> None:
    backend = LlamaCppBackend(n_threads=1, n_ctx=128, engine="server", parallel=1)
    (res,) = backend.complete([_ask("word " * 400, 1)])
    assert res.error is not None and res.error.startswith("llamacpp:") and not res.transient
    assert backend.server_engine().server.alive()


def test_missing_binary_is_a_one_line_backend_error(tmp_path: Path) -> None:
    backend = LlamaCppBackend(engine="server", server_binary=str(tmp_path / "nope"))
    with pytest.raises(BackendError, match=r"setup\.sh"):
        backend.complete([_ask("Hi", 0)])


def test_servers_stop_with_the_process_table() -> None:
    backend = _server_backend(parallel=3)
    backend.complete([_ask("Hi", 0, 8)])
    server = get_server(backend.server_engine().server.settings)
    assert server.alive() and server.proc is not None
    pid = server.proc.pid
    stop_servers()
    assert _gone(pid)


def test_server_threads_spin_briefly_then_sleep_unless_the_user_says() -> None:
    """The server's OpenMP threads spin SPIN_COUNT rounds (GNU libgomp) and then sleep;
    PASSIVE for other runtimes. A user's own setting of either variable is kept."""
    env = server_env({"PATH": "/bin"})
    assert env == {"PATH": "/bin", "OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "3000"}
    assert server_env({"OMP_WAIT_POLICY": "ACTIVE"}) == {"OMP_WAIT_POLICY": "ACTIVE"}
    assert server_env({"GOMP_SPINCOUNT": "0"}) == {"GOMP_SPINCOUNT": "0"}


def test_the_running_server_has_the_spin_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read back from the live process: what it was started with, not what we meant."""
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    binary = find_binary()
    assert binary is not None
    from synthmill.llm.llamacpp import default_model_path

    server = LlamaServer(ServerSettings(str(binary), default_model_path(), 512, 1, 1))
    try:
        server.ensure()
        assert server.proc is not None
        raw = Path(f"/proc/{server.proc.pid}/environ").read_bytes().split(b"\0")
        environ = dict(item.decode().split("=", 1) for item in raw if b"=" in item)
    finally:
        server.stop()
    assert environ["GOMP_SPINCOUNT"] == str(SPIN_COUNT)
    assert environ["OMP_WAIT_POLICY"] == "PASSIVE"
