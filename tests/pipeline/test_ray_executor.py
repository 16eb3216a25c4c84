"""The Ray executor on a real local Ray cluster: the same rows, provenance and run directory
as the local executor, resume after `kill -9` of the driver, and one-line errors.

One cluster per module (`ray start --head` on 127.0.0.1, 2 CPUs, its own ports and temp
folder), stopped at the end by killing its own process group: `ray stop` would stop every
Ray cluster on the machine.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from synthmill import Pipeline
from synthmill.errors import MissingExtraError, RunFailedError
from tests.conftest import REPO

# The module's cluster has its own token (Ray >= 2.59 turns token auth on for local
# clusters and otherwise reads ~/.ray/auth_token); set before ray is imported, which reads
# it then, so drivers in this process and in subprocesses send it.
AUTH = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
SAVED = {k: os.environ.get(k) for k in AUTH}
os.environ.update(AUTH)
ray = pytest.importorskip("ray", reason="ray is an optional extra: pip install 'synthmill[ray]'")

pytestmark = [pytest.mark.ray, pytest.mark.slow]
CLI = [sys.executable, "-m", "synthmill"]
SLEEP = "0.1"  # seconds per batch of tests.pipeline.steps:slow, in the cluster's workers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A private Ray head on 127.0.0.1 with 2 CPUs and the module's token; its address."""
    temp = tempfile.mkdtemp(prefix="smray-", dir="/tmp")  # short: Ray's socket paths
    port = free_port()
    ray_cli = Path(sys.executable).parent / "ray"
    cmd = [
        str(ray_cli), "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
        "--port", str(port), "--num-cpus", "2", "--temp-dir", temp,
        "--include-dashboard", "false", "--disable-usage-stats",
        "--dashboard-agent-listen-port", str(free_port()),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO), "SYNTHMILL_TEST_SLEEP": SLEEP}
    log = open(Path(temp) / "start.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((Path(temp) / "start.log").read_text()) from None
                time.sleep(0.3)
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: ray's processes, no other
        proc.wait()
        log.close()
        shutil.rmtree(temp, ignore_errors=True)
        for key, value in SAVED.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def env(cache: Path) -> dict[str, str]:
    paths = {"PYTHONPATH": str(REPO), "SYNTHMILL_CACHE_DIR": str(cache)}
    return {**os.environ, **paths, "SYNTHMILL_TEST_SLEEP": "0"}


def local_run(cfg: Path, out: Path, monkeypatch: pytest.MonkeyPatch, *sets: str) -> Path:
    """The same pipeline with the local executor, in this process (no CLI start-up)."""
    monkeypatch.chdir(REPO)  # the examples' relative paths
    monkeypatch.setenv("SYNTHMILL_TEST_SLEEP", "0")  # sleeping only matters on the cluster
    return Pipeline.from_yaml(cfg, [f"output.dir={out}", *sets]).run().root


def write(tmp: Path, name: str, config: dict[str, Any]) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def cli(
    cfg: Path, out: Path, cache: Path, *extra: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    cmd = [*CLI, "run", str(cfg), "--set", f"output.dir={out}", *extra]
    return subprocess.run(
        cmd, env=env(cache), capture_output=True, text=True, timeout=timeout, cwd=REPO
    )


def rows(run_dir: Path) -> list[dict[str, Any]]:
    """Every row with its provenance (_meta), in the order of the published files."""
    files = sorted((run_dir / "data").glob("*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def rejects(run_dir: Path) -> dict[str, str]:
    return {
        str(p.relative_to(run_dir)): p.read_text()
        for p in sorted((run_dir / "rejects").rglob("*.jsonl"))
    }


def stage_counts(run_dir: Path) -> dict[str, Any]:
    stats = json.loads((run_dir / "stats.json").read_text())["stages"]
    keep = ("rows_in", "rows_out", "rejected", "rejected_transient", "batches")
    return {label: {k: s[k] for k in keep} for label, s in stats.items()}


def counters(run_dir: Path, label: str) -> dict[str, int]:
    stats = json.loads((run_dir / "stats.json").read_text())["stages"]
    return dict(stats[label]["counters"])


def files(run_dir: Path) -> list[str]:
    return sorted(
        str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file() and p.name != ".lock"
    )


def engine_config(n: int = 80) -> dict[str, Any]:
    """Process-pool and threaded stages, a global stage, rejects after it."""
    return {
        "name": "ray-engine",
        "seed": 5,
        "shard_size": 10,
        "stages": [
            {"use": "range", "n": n},
            {
                "use": "map",
                "function": "tests.pipeline.steps:make_text",
                "executor": "process",
                "concurrency": 2,
                "batch_size": 4,
            },
            {"use": "filter.length", "min_words": 2},
            {"use": "map", "function": "tests.pipeline.steps:slow", "batch_size": 5},
            {"use": "map", "function": "tests.pipeline.ray_steps:where", "name": "where"},
            {"use": "dedup.exact"},
            {"use": "map", "function": "tests.pipeline.steps:tag", "concurrency": 2},
        ],
        "output": {"dir": "unused"},
    }


def assert_same_run(local: Path, remote: Path) -> None:
    assert rows(remote) == rows(local)  # rows and provenance, in order
    assert rejects(remote) == rejects(local)
    assert stage_counts(remote) == stage_counts(local)
    assert files(remote) == files(local)
    run = json.loads((remote / "run.json").read_text())
    assert run["status"] == "finished"
    assert run["fingerprint"] == json.loads((local / "run.json").read_text())["fingerprint"]


def test_cloze_example_same_as_local(
    cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The no-model example: same rows, provenance, rejects, stats and files; stdout clean."""
    cfg, cache = REPO / "examples/cloze.yaml", tmp_path / "cache"
    local_run(cfg, tmp_path / "local", monkeypatch)
    remote = cli(cfg, tmp_path / "ray", cache, "--executor", "ray", "--ray-address", cluster)
    assert remote.returncode == 0, remote.stderr
    assert remote.stdout == ""  # Ray's own logging stays out of stdout
    assert "done: 42 rows" in " ".join(remote.stderr.split())
    assert_same_run(tmp_path / "local", tmp_path / "ray")


def test_shards_run_in_workers_and_stats_merge(
    cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write(tmp_path, "engine", engine_config())
    cache = tmp_path / "cache"
    local_run(cfg, tmp_path / "local", monkeypatch)
    remote = cli(cfg, tmp_path / "ray", cache, "--executor", "ray", "--ray-address", cluster)
    assert remote.returncode == 0, remote.stderr
    assert_same_run(tmp_path / "local", tmp_path / "ray")
    # the rows were made by Ray workers, and every worker's counters were summed
    by_pid = counters(tmp_path / "ray", "where")
    rows_in = stage_counts(tmp_path / "ray")["where"]["rows_in"]
    assert sum(by_pid.values()) == rows_in
    local_pids = set(counters(tmp_path / "local", "where"))
    assert local_pids == {f"pid-{os.getpid()}"} and not local_pids & set(by_pid)


def test_stage_executor_ray_from_python(cluster: str, tmp_path: Path) -> None:
    """`executor: ray` on one stage: its batches are Ray tasks; Ray is shut down after."""
    config = engine_config(60)
    config["ray_address"] = cluster
    config["stages"][4]["executor"] = "ray"  # where: shows which processes ran it
    local = {**config, "output": {"dir": str(tmp_path / "local")}}
    local["stages"] = [{k: v for k, v in s.items() if v != "ray"} for s in config["stages"]]
    Pipeline.from_config(local).run()
    remote = {**config, "output": {"dir": str(tmp_path / "ray")}}
    Pipeline.from_config(remote).run()
    assert not ray.is_initialized()
    assert_same_run(tmp_path / "local", tmp_path / "ray")
    assert str(os.getpid()) not in " ".join(counters(tmp_path / "ray", "where"))


def failing_config(n: int) -> dict[str, Any]:
    config = engine_config(n)
    step = {"use": "map", "function": "tests.pipeline.ray_steps:fail_on_shard_1"}
    config["stages"].insert(2, step)
    return config


def test_failing_stage_one_line_and_shutdown(cluster: str, tmp_path: Path) -> None:
    (Path(os.environ["SYNTHMILL_CACHE_DIR"]).parent / "fail-shard-1").touch()
    config = failing_config(40)
    config.update(executor="ray", ray_address=cluster, output={"dir": str(tmp_path / "run")})
    with pytest.raises(RunFailedError) as err:
        Pipeline.from_config(config).run()
    message = str(err.value)
    assert "fail_on_shard_1" in message and "shard 1" in message
    assert "planted failure on shard 1" in message and "\n" not in message
    assert not ray.is_initialized()
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["status"] == "failed"


def test_resume_after_kill_9_of_the_driver(
    cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write(tmp_path, "engine", engine_config(240))
    cache = tmp_path / "cache"
    local_run(cfg, tmp_path / "clean", monkeypatch)
    out = tmp_path / "ray"
    cmd = [*CLI, "run", str(cfg), "--set", f"output.dir={out}", "--executor", "ray"]
    proc = subprocess.Popen(
        [*cmd, "--ray-address", cluster],
        env=env(cache),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    seg0 = out / "work" / "seg-00"
    deadline = time.monotonic() + 120
    while len(list(seg0.glob("*.done.json"))) < 3:
        assert proc.poll() is None and time.monotonic() < deadline, "run ended before the kill"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver only: the cluster lives in its own session
    proc.wait()
    assert not (seg0 / "_SUCCESS.json").exists(), "the kill landed after the segment"
    before = {p.name: p.stat().st_mtime_ns for p in seg0.glob("*.done.json")}
    assert 3 <= len(before) < 24
    again = cli(cfg, out, cache, "--executor", "ray", "--ray-address", cluster)
    assert again.returncode == 0, again.stderr
    after = {p.name: p.stat().st_mtime_ns for p in seg0.glob("*.done.json")}
    assert all(after[name] == mtime for name, mtime in before.items())  # not redone
    assert rows(out) == rows(tmp_path / "clean")
    assert rejects(out) == rejects(tmp_path / "clean")
    assert len(json.loads((out / "run.json").read_text())["attempts"]) == 2


def test_resume_with_the_other_executor(
    cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The executor is a speed option: a run stopped on Ray may finish locally."""
    cfg = write(tmp_path, "engine", failing_config(60))
    cache, out = tmp_path / "cache", tmp_path / "run"
    local_run(cfg, tmp_path / "clean", monkeypatch)
    (tmp_path / "fail-shard-1").touch()
    failed = cli(cfg, out, cache, "--executor", "ray", "--ray-address", cluster)
    assert failed.returncode == 1, failed.stderr
    assert "planted failure on shard 1" in failed.stderr
    assert not (out / "work/seg-00/shard-00001.done.json").exists()
    (tmp_path / "fail-shard-1").unlink()
    again = cli(cfg, out, cache, "--executor", "local")
    assert again.returncode == 0, again.stderr
    assert rows(out) == rows(tmp_path / "clean")
    assert rejects(out) == rejects(tmp_path / "clean")


def test_dead_address_is_one_line_exit_2_quickly(tmp_path: Path) -> None:
    cfg = REPO / "examples/cloze.yaml"
    dead = f"127.0.0.1:{free_port()}"
    start = time.monotonic()
    flags = ("--executor", "ray", "--ray-address", dead)
    result = cli(cfg, tmp_path / "run", tmp_path / "cache", *flags)
    assert time.monotonic() - start < 30
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and dead in lines[0]
    assert "ray start --head" in lines[0]
    assert not (tmp_path / "run").exists()  # nothing written


def test_without_ray_fails_at_config_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    config = engine_config(10)
    config.update(executor="ray", output={"dir": str(tmp_path / "run")})
    with pytest.raises(MissingExtraError) as err:
        Pipeline.from_config(config)
    assert "pip install 'synthmill[ray]'" in str(err.value)
    assert err.value.exit_code == 2
    config.update(executor="local")
    config["stages"][1]["executor"] = "ray"  # on one stage: the same
    with pytest.raises(MissingExtraError):
        Pipeline.from_config(config)
    assert not (tmp_path / "run").exists()


def model_config() -> dict[str, Any]:
    return {
        "name": "ray-model",
        "seed": 3,
        "shard_size": 2,
        "backend": {"type": "llamacpp"},  # n_threads unset: one thread per worker on Ray
        "stages": [
            {"use": "range", "n": 4},
            {
                "use": "generate",
                "prompt": "Name one animal that starts with the letter {{ 'abcd'[index] }}.",
                "output": "animal",
                "max_tokens": 8,
                "temperature": 0.8,
                # 8 tokens cut most answers short: keep them, the test compares rows, not prose
                "keep_truncated": True,
            },
            {"use": "map", "function": "tests.pipeline.ray_steps:where", "name": "where"},
        ],
        "output": {"dir": "unused"},
    }


@pytest.mark.model
def test_embedded_model_in_workers(
    cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each worker loads its own embedded model; the rows equal a local run's (each with its
    own response cache), and the workers' replies land in the one cache of this machine."""
    cfg = write(tmp_path, "model", model_config())
    ray_cache = tmp_path / "ray-cache"
    flags = ("--executor", "ray", "--ray-address", cluster)
    remote = cli(cfg, tmp_path / "ray", ray_cache, *flags)
    assert remote.returncode == 0, remote.stderr
    made = counters(tmp_path / "ray", "generate")
    assert made["llm.calls"] == 4 and made.get("llm.cache_hits", 0) == 0
    assert f"pid-{os.getpid()}" not in counters(tmp_path / "ray", "where")

    monkeypatch.setenv("SYNTHMILL_CACHE_DIR", str(tmp_path / "local-cache"))
    local_run(cfg, tmp_path / "local", monkeypatch, "backend.n_threads=1")  # a busy machine
    assert counters(tmp_path / "local", "generate")["llm.calls"] == 4
    assert len(rows(tmp_path / "ray")) == 4  # every answer kept: an empty == empty proves nothing
    assert rows(tmp_path / "ray") == rows(tmp_path / "local")
    assert all(r["_meta"]["model"] == "SmolLM2-135M-Instruct.Q4_1" for r in rows(tmp_path / "ray"))

    again = cli(cfg, tmp_path / "ray", ray_cache, *flags, "--overwrite")
    assert again.returncode == 0, again.stderr
    cached = counters(tmp_path / "ray", "generate")
    assert cached["llm.cache_hits"] == 4 and cached.get("llm.calls", 0) == 0
    assert rows(tmp_path / "ray") == rows(tmp_path / "local")
