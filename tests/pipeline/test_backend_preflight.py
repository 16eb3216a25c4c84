"""A dead backend server stops a run before its run directory exists (exit 2, one line);
a backend that the first calls refuse stops it part-way (exit 1) with the run directory
kept and resumable; a finished run is published again without its server.

Real parts: a closed port on 127.0.0.1 (bound, then released), and a real local HTTP
server (tests/llm/faults.py) that refuses calls without its API key.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers import run_main
from tests.llm.faults import fault_server
from tests.llm.servers import free_port


def config(tmp: Path, base_url: str, rows: int = 4) -> Path:
    data = tmp / "prompts.jsonl"
    data.write_text(
        "".join(json.dumps({"instruction": f"row {i}: say hi"}) + "\n" for i in range(rows))
    )
    backend = {"type": "openai", "model": "m", "base_url": base_url, "max_retries": 1}
    cfg = {
        "backend": {**backend, "backoff": 0.05, "timeout": 5},
        "stages": [{"use": "read", "path": str(data)}, {"use": "distill", "max_tokens": 16}],
        "output": {"dir": str(tmp / "run")},
    }
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_a_closed_port_is_exit_2_in_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # bound and released: nothing listens
    path = config(tmp_path, url)
    before = files(tmp_path)
    start = time.monotonic()
    code = run_main(["run", path])
    assert time.monotonic() - start < 10
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.splitlines() == [
        f"error: backend openai (stages.1.backend) unreachable at {url}: cannot connect "
        "(Connection refused); start the server or fix base_url"
    ]
    assert files(tmp_path) == before  # no run directory, no lock, no cache


def test_a_backend_refused_by_the_first_calls_keeps_the_run_dir_to_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with fault_server({}, api_key="sk-right-key") as server:
        path = config(tmp_path, server.base_url)
        assert run_main(["run", path]) == 1  # the server is up, but wants a key
        (line,) = capsys.readouterr().err.splitlines()[-1:]
        assert line.startswith(f"error: backend {server.base_url} cannot be used: HTTP 401")
        assert line.endswith(
            f"the run stopped part-way and {tmp_path / 'run'} is kept (status failed): "
            "run the same command again to resume"
        )
        run = json.loads((tmp_path / "run" / "run.json").read_text())
        assert run["status"] == "failed" and "HTTP 401" in run["attempts"][-1]["error"]
        assert not (tmp_path / "run" / "data").exists()
        monkeypatch.setenv("FAULT_KEY", "sk-right-key")  # a speed option: the same run
        assert run_main(["run", path, "--set", "backend.api_key_env=FAULT_KEY"]) == 0
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["status"] == "finished" and len(run["attempts"]) == 2
    assert json.loads((tmp_path / "run" / "stats.json").read_text())["rows"] == 4


def test_a_finished_run_is_published_again_without_its_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with fault_server({}) as server:
        path = config(tmp_path, server.base_url)
        assert run_main(["run", path]) == 0
    # the server is gone; nothing is left to call, so a re-layout still works
    assert run_main(["run", path, "--set", "output.file_rows=2"]) == 0, capsys.readouterr().err
    assert len(list((tmp_path / "run" / "data").glob("*.parquet"))) == 2
    assert run_main(["run", path, "--overwrite"]) == 2  # a new run needs the server
    assert "unreachable at" in capsys.readouterr().err
    assert (tmp_path / "run" / "stats.json").exists()  # refused before --overwrite deleted
