"""The openai backend's shared client against a local server with 200 ms latency.

    .venv/bin/python -m bench.client [--rows 2000] [--curator /tmp/curatorvenv/bin/python]

(0) raw clients: aiohttp vs httpx (pool sized to the in-flight count) at 64 and 256 requests
    in flight, requests/s, to pick the transport;
(a) `synthmill run` end to end, 2000 one-call rows (range -> generate), unlimited server:
    with default options (max_in_flight 256, ideal capped at 500 requests/s), and with
    max_in_flight 16 and 100 (100 / 0.2 s = 500 requests/s); goal: the stage's
    requests/s >= 80% of min(max_in_flight / latency, 500); and Curator
    (bespokelabs-curator, installed in a throwaway venv) on the same 2000 prompts, its
    defaults, in the same run: goal synthmill rows/s >= 2x Curator's;
(b) a server that takes 8 requests at once and answers 429 beyond (with and without
    Retry-After): the run completes, <= 10% of answers are 429 after the first 10 s.

Writes bench/results/client.json. The server (bench/mock_server.py) runs as a separate
process, so it does not share the client's interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench._machine import machine

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "bench" / "results" / "client.json"
LATENCY = 0.2
PROMPT = "Write one sentence about item {{ index }}."
SYNTHMILL = [sys.executable, "-m", "synthmill"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(max_concurrent: int = 0, retry_after: float | None = None) -> Iterator[str]:
    port = free_port()
    args = [sys.executable, "-m", "bench.mock_server", "--port", str(port)]
    args += ["--latency", str(LATENCY), "--max-concurrent", str(max_concurrent)]
    if retry_after:
        args += ["--retry-after", str(retry_after)]
    proc = subprocess.Popen(args, cwd=ROOT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{url}/models", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def stats(url: str) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(url.removesuffix("/v1") + "/stats", timeout=30).json()
    return data


# ---- (0) raw clients -------------------------------------------------------------------------
def body(i: int) -> dict[str, Any]:
    return {"model": "mock", "messages": [{"role": "user", "content": f"item {i}"}]}


async def with_aiohttp(url: str, n: int, in_flight: int) -> float:
    import aiohttp

    limit = asyncio.Semaphore(in_flight)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> None:
            async with limit, session.post(f"{url}/chat/completions", json=body(i)) as r:
                await r.read()

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - start)


async def with_httpx(url: str, n: int, in_flight: int) -> float:
    limit = asyncio.Semaphore(in_flight)
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:

        async def one(i: int) -> None:
            async with limit:
                (await client.post(f"{url}/chat/completions", json=body(i))).raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - start)


def raw_clients(n: int) -> list[dict[str, Any]]:
    out = []
    with server() as url:
        for in_flight in (64, 256):
            for name, fn in (("aiohttp", with_aiohttp), ("httpx", with_httpx)):
                rate = asyncio.run(fn(url, n, in_flight))
                ideal = in_flight / LATENCY
                out.append(
                    {
                        "client": name,
                        "in_flight": in_flight,
                        "requests": n,
                        "requests_per_s": round(rate, 1),
                        "share_of_ideal": round(rate / ideal, 3),
                    }
                )
                print(out[-1], flush=True)
    return out


# ---- (a), (b) synthmill run end to end -------------------------------------------------------
def pipeline_yaml(folder: Path, url: str, rows: int) -> Path:
    config = {
        "name": "client-bench",
        "seed": 1,
        "backend": {"type": "openai", "base_url": url, "model": "mock"},
        "stages": [
            {"use": "range", "n": rows},
            {"use": "generate", "prompt": PROMPT, "output": "text"},
        ],
        "output": {"dir": str(folder / "run")},
    }
    path = folder / "pipeline.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def synthmill_run(url: str, rows: int, options: list[str]) -> dict[str, Any]:
    """One `synthmill run`; its CPU seconds and the mock server's in the same span."""
    cpu = (children_cpu(), stats(url)["cpu_seconds"])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = pipeline_yaml(folder, url, rows)
        env = {**os.environ, "SYNTHMILL_CACHE_DIR": str(folder / "cache")}
        args = [*SYNTHMILL, "run", str(config), *[f"--set={o}" for o in options]]
        start = time.perf_counter()
        proc = subprocess.run(args, env=env, capture_output=True, text=True, cwd=ROOT)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            return {"options": options, "exit": proc.returncode, "stderr": proc.stderr[-500:]}
        stage = json.loads((folder / "run" / "stats.json").read_text())["stages"]["generate"]
    c = stage["counters"]
    wall = stage["wall_seconds"]
    client_cpu = children_cpu() - cpu[0]
    server_cpu = stats(url)["cpu_seconds"] - cpu[1]
    return {
        "options": options,
        "exit": 0,
        "rows_out": stage["rows_out"],
        "seconds_end_to_end": round(seconds, 2),
        "rows_per_s_end_to_end": round(rows / seconds, 1),
        "stage_wall_seconds": wall,
        "stage_requests_per_s": round(c["llm.requests"] / wall, 1),
        "requests": c["llm.requests"],
        "status_429": c.get("llm.status_429", 0),
        "retries": c.get("llm.retries", 0),
        "effective_concurrency": round(c["llm.wire_ms"] / 1000 / wall, 1),
        # CPU of the whole `synthmill run` (start-up, Parquet, card included) and of the
        # mock server meanwhile, per request: which side would run out of a core first
        "client_cpu_seconds": round(client_cpu, 2),
        "server_cpu_seconds": round(server_cpu, 2),
        "client_cpu_ms_per_request": round(1000 * client_cpu / c["llm.requests"], 3),
        "server_cpu_ms_per_request": round(1000 * server_cpu / c["llm.requests"], 3),
        "load_average_after": os.getloadavg(),
    }


def default_max_in_flight() -> int:
    from synthmill.llm.openai import OpenAIBackend

    return int(OpenAIBackend.model_fields["max_in_flight"].default)


def part_a(rows: int) -> list[dict[str, Any]]:
    out = []
    with server() as url:
        for max_in_flight in (None, 16, 100):
            options = [] if max_in_flight is None else [f"backend.max_in_flight={max_in_flight}"]
            result = synthmill_run(url, rows, options)
            m = max_in_flight or default_max_in_flight()
            ideal = min(m / LATENCY, 500.0)
            result["max_in_flight"] = m
            result["ideal_requests_per_s"] = ideal
            if result["exit"] == 0:
                result["share_of_ideal"] = round(result["stage_requests_per_s"] / ideal, 3)
                # above 500 requests/s the goal is 80% of 500; this is the share of all of it
                result["share_of_in_flight_over_latency"] = round(
                    result["stage_requests_per_s"] * LATENCY / m, 3
                )
            out.append(result)
            print(result, flush=True)
    return out


CURATOR_SCRIPT = """
import json, sys, time
from bespokelabs import curator
url, rows = sys.argv[1], int(sys.argv[2])

class Gen(curator.LLM):
    def prompt(self, row):
        return f"Write one sentence about item {row['index']}."
    def parse(self, row, response):
        return {"index": row["index"], "text": response}

# Curator's defaults against a server that sends no rate-limit headers crawl (one request
# in flight); tell it what a user of a local server would: 500 requests/s, tokens unlimited
params = {"base_url": url, "api_key": "x", "max_requests_per_minute": 30000,
          "max_tokens_per_minute": 100_000_000}
llm = Gen(model_name="mock", backend="openai", backend_params=params)
start = time.perf_counter()
out = llm([{"index": i} for i in range(rows)])
seconds = time.perf_counter() - start
n = len(out.dataset) if hasattr(out, "dataset") else len(out)
print(json.dumps({"rows_out": n, "seconds_in_call": seconds}))
"""


def curator(python: str, rows: int) -> dict[str, Any]:
    if not Path(python).exists():
        return {"skipped": f"{python} not found (pip install bespokelabs-curator in a venv)"}
    with server() as url, tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "curator_bench.py"
        script.write_text(CURATOR_SCRIPT)
        env = {
            **os.environ,
            "CURATOR_CACHE_DIR": str(Path(tmp) / "cache"),
            "OPENAI_API_KEY": "x",
            "TELEMETRY_ENABLED": "false",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "CURATOR_DISABLE_RICH_DISPLAY": "1",
            # tiktoken would download its encoding; litellm (a Curator dependency) ships it
            "TIKTOKEN_CACHE_DIR": _litellm_tokenizers(python),
        }
        start = time.perf_counter()
        proc = subprocess.run(
            [python, str(script), url, str(rows)],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        seconds = time.perf_counter() - start
        served = stats(url)["statuses"]
    if proc.returncode != 0:
        return {"exit": proc.returncode, "stderr": proc.stderr[-800:]}
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    version = subprocess.run(
        [
            python,
            "-c",
            "from importlib.metadata import version; print(version('bespokelabs-curator'))",
        ],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "version": version,
        "rows_out": last["rows_out"],
        "seconds_end_to_end": round(seconds, 2),
        "rows_per_s_end_to_end": round(rows / seconds, 1),
        "seconds_in_call": round(last["seconds_in_call"], 2),
        "server_statuses": served,
        "options": "max_requests_per_minute=30000, max_tokens_per_minute=1e8 (500 requests/s)",
    }


def _litellm_tokenizers(python: str) -> str:
    venv = Path(python).parent.parent
    found = sorted(venv.glob("lib/python*/site-packages/litellm/litellm_core_utils/tokenizers"))
    return str(found[0]) if found else ""


def part_b(rows: int) -> list[dict[str, Any]]:
    out = []
    for retry_after in (None, 1.0):
        with server(max_concurrent=8, retry_after=retry_after) as url:
            result = synthmill_run(url, rows, [])
            log = stats(url)["log"]
        late = [s for t, s in log if t > 10.0]
        result["retry_after"] = retry_after
        result["answers_after_10s"] = len(late)
        result["share_429_after_10s"] = round(sum(s == 429 for s in late) / max(1, len(late)), 4)
        result["share_429_overall"] = round(sum(s == 429 for _, s in log) / max(1, len(log)), 4)
        result["ideal_requests_per_s"] = 8 / LATENCY
        out.append(result)
        print(result, flush=True)
    return out


def compile_bytecode() -> str:
    """Byte-compile synthmill's sources once, as `pip install` does for an installed package.

    This checkout is an editable install and the bench machine sets PYTHONDONTWRITEBYTECODE,
    so without this every `synthmill run` would compile its ~100 modules from source again
    (0.3-0.7 s of start-up that no installed copy pays). Curator's venv is pip-installed,
    hence compiled already.
    """
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    return "synthmill's sources byte-compiled first (as pip install does); Curator pip-installed"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rows-429", type=int, default=1000)
    parser.add_argument("--raw", type=int, default=2000)
    parser.add_argument("--curator", default="/tmp/curatorvenv/bin/python")
    args = parser.parse_args()
    result: dict[str, Any] = {"machine": machine(), "latency_s": LATENCY}
    result["bytecode"] = compile_bytecode()
    result["default_max_in_flight"] = default_max_in_flight()
    result["raw_clients"] = raw_clients(args.raw)
    result["a_unlimited_server"] = part_a(args.rows)
    result["a_curator"] = curator(args.curator, args.rows)
    default = result["a_unlimited_server"][0]
    if "rows_per_s_end_to_end" in result["a_curator"] and default.get("exit") == 0:
        ratio = default["rows_per_s_end_to_end"] / result["a_curator"]["rows_per_s_end_to_end"]
        result["a_ratio_synthmill_to_curator_rows_per_s"] = round(ratio, 2)
    result["b_server_8_concurrent"] = part_b(args.rows_429)
    result["load_average_at_end"] = os.getloadavg()
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))


if __name__ == "__main__":
    main()
