"""Offline batch files end to end, through the CLI: export, answer, import, run.

The offline run's backend points at a port where nothing listens, so any call would fail
the run; it must finish from the cache with zero calls and the same rows as an online run
against a real local server that answers with the same replies.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from bench.mock_server import MockServer, serve_in_thread

from tests.helpers import Done, run_main
from tests.llm.servers import free_port

HERE = Path(__file__).resolve().parent


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """`synthmill ARGS` in this process (as the console script runs it), with a cache dir."""

    def invoke(cache: Path, *args: str) -> Done:
        monkeypatch.setenv("SYNTHMILL_CACHE_DIR", str(cache))
        capsys.readouterr()
        code = run_main(args)
        out = capsys.readouterr()
        return Done(code, out.out, out.err)

    return invoke


def config(folder: Path, url: str, out: str) -> Path:
    data = {
        "name": "offline",
        "seed": 3,
        "backend": {"type": "openai", "base_url": url, "model": "mock", "max_retries": 0},
        "stages": [
            {"use": "range", "n": 8},
            {
                "use": "generate",
                "name": "ask",
                "prompt": "A question on {{ index }}.",
                "output": "question",
            },
            {
                "use": "generate",
                "name": "answer",
                "prompt": "Answer: {{ question }}",
                "schema": {"answer": "str"},
            },
        ],
        "output": {"dir": str(folder / out)},
    }
    path = folder / f"{out}.yaml"
    path.write_text(json.dumps(data))
    return path


def rows(run: Path) -> list[dict[str, Any]]:
    return [
        r for f in sorted((run / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()
    ]


def counters(run: Path, stage: str) -> dict[str, int]:
    stats = json.loads((run / "stats.json").read_text())
    return dict(stats["stages"][stage]["counters"])


def answer_round(
    cli: Any, tmp: Path, cache: Path, cfg: Path, n: int, stage: str
) -> list[dict[str, Any]]:
    requests, results = tmp / f"req{n}.jsonl", tmp / f"res{n}.jsonl"
    done = cli(cache, "batch", "export", str(cfg), "-o", str(requests))
    assert done.returncode == 0, done.stderr
    assert f"exported 8 requests ({stage}: 8)" in done.stdout
    lines = [json.loads(t) for t in requests.read_text().splitlines()]
    script = [sys.executable, str(HERE / "answer_batch.py"), str(requests), str(results)]
    subprocess.run(script, check=True, timeout=60)
    done = cli(cache, "batch", "import", str(results))
    assert done.returncode == 0 and "imported 8 replies" in done.stdout, done.stderr
    return lines


def test_export_answer_import_then_run_makes_no_calls(tmp_path: Path, cli: Any) -> None:
    server = MockServer(latency=0.0)
    with serve_in_thread(server) as url:
        online = cli(tmp_path / "cache-online", "run", str(config(tmp_path, url, "online")))
        assert online.returncode == 0, online.stderr
    dead = f"http://127.0.0.1:{free_port()}/v1"
    cfg, cache = config(tmp_path, dead, "offline"), tmp_path / "cache-offline"
    first = answer_round(cli, tmp_path, cache, cfg, 1, "ask")
    assert {x["url"] for x in first} == {"/v1/chat/completions"}
    assert all(x["body"]["model"] == "mock" and "response_format" not in x["body"] for x in first)
    second = answer_round(cli, tmp_path, cache, cfg, 2, "answer")  # asks about the replies
    assert all(x["body"]["response_format"]["type"] == "json_schema" for x in second)
    assert (
        "nothing to export"
        in cli(cache, "batch", "export", str(cfg), "-o", str(tmp_path / "x.jsonl")).stdout
    )
    done = cli(cache, "run", str(cfg))
    assert done.returncode == 0, done.stderr
    offline = tmp_path / "offline"
    for stage in ("ask", "answer"):
        assert counters(offline, stage).get("llm.calls", 0) == 0
        assert counters(offline, stage)["llm.cache_hits"] == 8
    assert len(rows(offline)) == 8
    assert rows(offline) == rows(tmp_path / "online")


def test_failed_lines_stay_pending_and_unknown_ids_are_refused(tmp_path: Path, cli: Any) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    cfg, cache = config(tmp_path, dead, "run"), tmp_path / "cache"
    requests, results = tmp_path / "req.jsonl", tmp_path / "res.jsonl"
    assert (
        cli(cache, "batch", "export", str(cfg), "--stage", "ask", "-o", str(requests)).returncode
        == 0
    )
    first = json.loads(requests.read_text().splitlines()[0])["custom_id"]
    script = [sys.executable, str(HERE / "answer_batch.py"), str(requests), str(results)]
    subprocess.run([*script, "--fail", first], check=True, timeout=60)
    done = cli(cache, "batch", "import", str(results))
    assert "imported 7 replies" in done.stdout and "1 failed (server_error: 1)" in done.stdout
    again = cli(cache, "batch", "export", str(cfg), "--stage", "ask", "-o", str(requests))
    assert "exported 1 requests (ask: 1)" in again.stdout
    stranger = cli(tmp_path / "other-cache", "batch", "import", str(results))
    assert stranger.returncode == 2 and stranger.stderr.startswith("error: ")
    bad = cli(cache, "batch", "export", str(cfg), "--stage", "nope")
    assert bad.returncode == 2 and "no such stage" in bad.stderr


def test_import_reads_replies_holding_a_raw_line_separator(tmp_path: Path, cli: Any) -> None:
    """A server that writes UTF-8 (ensure_ascii off) may put U+2028 raw inside a reply;
    JSONL lines end at "\\n" only, so the reply must arrive whole, not split in two."""
    dead = f"http://127.0.0.1:{free_port()}/v1"
    cfg, cache = config(tmp_path, dead, "run"), tmp_path / "cache"
    requests, results = tmp_path / "req.jsonl", tmp_path / "res.jsonl"
    assert cli(cache, "batch", "export", str(cfg), "-o", str(requests)).returncode == 0
    script = [sys.executable, str(HERE / "answer_batch.py"), str(requests), str(results)]
    subprocess.run(script, check=True, timeout=60)
    lines = [json.loads(t) for t in results.read_text().split("\n") if t.strip()]
    for line in lines:
        message = line["response"]["body"]["choices"][0]["message"]
        message["content"] = "one\u2028two " + message["content"]
    results.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    assert "\u2028" in results.read_text(encoding="utf-8")
    done = cli(cache, "batch", "import", str(results))
    assert done.returncode == 0 and "imported 8 replies" in done.stdout, done.stderr
