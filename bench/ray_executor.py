"""The Ray executor against the local one, on the same pipelines, in one run (rows/s).

    .venv/bin/python bench/ray_executor.py      # writes bench/results/ray_executor.json

Starts a private Ray head on 127.0.0.1 with every CPU of this machine (its own temp
folder and ports, killed at the end), then runs each pipeline into a fresh run dir:
- cpu: a pure-Python CPU-bound map (about 2 ms a row): local on one thread, local with
  `executor: process` on every CPU (the direct multi-core path), and `--executor ray`;
- model: the embedded model (SmolLM2-135M) writing short replies: local with one
  llama.cpp thread, and Ray with one single-threaded worker per CPU. (Local with
  n_threads = every CPU is the other direct path; on a machine busy with other work its
  threads wait on each other and it is many times slower, so it is not the baseline.)
Each time is a whole `synthmill run` in a subprocess (start-up, Ray connection and
worker start included), so short runs show Ray's fixed cost; `ray_fixed_seconds` is
that cost measured alone on a one-row pipeline.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from synthmill import Record  # noqa: E402

CPU_ROWS = 1200
MODEL_ROWS = 8


def burn(batch: list[Record]) -> list[Record]:
    """About 2 ms of pure-Python work per row (holds the GIL, as parsing or scoring does)."""
    out = []
    for r in batch:
        digest = str(r.data["index"]).encode()
        for _ in range(2000):
            digest = hashlib.sha256(digest).digest()
        out.append(r.with_data(digest=digest.hex()[:16]))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_cluster(temp: str, cpus: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [
        str(Path(sys.executable).parent / "ray"), "start", "--head", "--block",
        "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", str(cpus),
        "--temp-dir", temp, "--include-dashboard", "false", "--disable-usage-stats",
        "--dashboard-agent-listen-port", str(free_port()),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # with main()'s RAY_AUTH_TOKEN
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def timed_run(config: dict[str, Any], out: Path, cache: Path, *flags: str) -> float:
    config = {**config, "output": {"dir": str(out)}}
    path = out.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONPATH": str(REPO), "SYNTHMILL_CACHE_DIR": str(cache)}
    cmd = [sys.executable, "-m", "synthmill", "run", str(path), *flags]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return seconds


def rows(run_dir: Path) -> list[Any]:
    import pyarrow.parquet as pq

    files = sorted((run_dir / "data").glob("*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def cpu_config(n: int, **stage: Any) -> dict[str, Any]:
    step = {"use": "map", "function": "bench.ray_executor:burn", "batch_size": 25, **stage}
    return {"name": "cpu", "seed": 1, "shard_size": 100, "stages": [{"use": "range", "n": n}, step]}


def model_config() -> dict[str, Any]:
    prompt = "Write one sentence about the number {{ index }}."
    return {
        "name": "model",
        "seed": 1,
        "shard_size": 4,
        "backend": {"type": "llamacpp"},
        "stages": [
            {"use": "range", "n": MODEL_ROWS},
            {"use": "generate", "prompt": prompt, "output": "text", "max_tokens": 16},
        ],
    }


def main() -> None:
    from bench._machine import machine

    cpus = os.cpu_count() or 1
    result: dict[str, Any] = {"machine": machine(), "cpus_used": cpus}
    result["machine"]["versions"]["ray"] = metadata.version("ray")
    result["notes"] = (
        "whole `synthmill run` subprocesses; cpu: ~2 ms pure-Python work per row, local "
        "thread vs local process pool (every CPU) vs Ray shards; model: SmolLM2-135M, "
        "local with 1 llama.cpp thread vs Ray with one 1-thread worker per CPU"
    )
    # the cluster's own token, for it and the drivers (not ~/.ray/auth_token)
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop the cluster
    temp = tempfile.mkdtemp(prefix="smray-bench-", dir="/tmp")
    proc, address = start_cluster(temp, cpus)
    ray_flags = ("--executor", "ray", "--ray-address", address)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            fixed = timed_run(cpu_config(1), work / "fixed", work / "c0", *ray_flags)
            local_fixed = timed_run(cpu_config(1), work / "fixed-l", work / "c0")
            result["ray_fixed_seconds"] = round(fixed - local_fixed, 2)

            times = {
                "local_thread": timed_run(cpu_config(CPU_ROWS), work / "t", work / "c1"),
                "local_process": timed_run(
                    cpu_config(CPU_ROWS, executor="process", concurrency=cpus),
                    work / "p",
                    work / "c1",
                ),
                "ray": timed_run(cpu_config(CPU_ROWS), work / "r", work / "c1", *ray_flags),
            }
            assert rows(work / "r") == rows(work / "t") == rows(work / "p")
            result["cpu"] = {
                "rows": CPU_ROWS,
                "rows_per_s": {k: round(CPU_ROWS / v, 1) for k, v in times.items()},
                "ray_vs_local_thread": round(times["local_thread"] / times["ray"], 2),
                "ray_vs_local_process": round(times["local_process"] / times["ray"], 2),
            }

            one_thread = {**model_config(), "backend": {"type": "llamacpp", "n_threads": 1}}
            model = {
                "local": timed_run(one_thread, work / "ml", work / "c2"),
                "ray": timed_run(model_config(), work / "mr", work / "c3", *ray_flags),
            }
            result["model"] = {
                "rows": MODEL_ROWS,
                "same_rows": rows(work / "mr") == rows(work / "ml"),
                "rows_per_min": {k: round(60 * MODEL_ROWS / v, 1) for k, v in model.items()},
                "ray_vs_local": round(model["local"] / model["ray"], 2),
            }
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        subprocess.run(["rm", "-rf", temp], check=False)
    out = REPO / "bench/results/ray_executor.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
