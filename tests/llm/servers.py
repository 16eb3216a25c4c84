"""A real `python -m llama_cpp.server` on 127.0.0.1 serving the embedded model.

Importable from other test folders: `from tests.llm.servers import llama_server`
(a session fixture yielding the base URL, e.g. http://127.0.0.1:PORT/v1).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from synthmill.llm.llamacpp import default_model_path

MODEL_ALIAS = "smollm2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError("llama_cpp.server did not start in time")


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start the server once per test session; yield its base URL."""
    port = free_port()
    log = Path(tmp_path_factory.mktemp("llama-server")) / "server.log"
    args = [sys.executable, "-m", "llama_cpp.server", "--model", default_model_path()]
    args += ["--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(port)]
    args += ["--n_threads", "1", "--n_threads_batch", "1", "--n_ctx", "2048", "--verbose", "False"]
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_ready(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
