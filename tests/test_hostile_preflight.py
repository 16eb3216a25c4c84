"""A dead backend server anywhere in a stage's options stops the run before its run directory
exists: exit 2 and one line naming where it is configured. The preflight walks each stage's
options (nested models, lists, mappings), so a backend inside a pass, in a list of judges or
in a mapping is found as surely as a stage's own `backend`.

Real parts: closed ports on 127.0.0.1 (bound, then released), the real `decontaminate`
stage with its semantic judge, and a stage (below) holding backends in a list and a mapping.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from pydantic import BaseModel, Field

from synthmill.llm.registry import BackendField
from synthmill.pipeline.preflight import models_within
from synthmill.pipeline.stage import Stage, StageContext
from synthmill.records import Record
from tests.helpers import run_main
from tests.llm.servers import free_port


class Panel(BaseModel):
    """Judges in a list and by name, as a plugin might hold them."""

    judges: list[BackendField] = Field(default=[])
    by_name: dict[str, BackendField] = Field(default={})


class PanelStage(Stage):
    """A stage whose backends are all nested (none is a direct `backend` field)."""

    kind: ClassVar[str] = "panel"
    panel: Panel = Field(default_factory=Panel)

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        return batch


def openai(url: str) -> dict[str, Any]:
    return {"type": "openai", "model": "m", "base_url": url, "max_retries": 0, "timeout": 5}


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"  # bound and released: nothing listens


def write_config(tmp: Path, stage: dict[str, Any]) -> Path:
    data = tmp / "rows.jsonl"
    rows = [{"text": f"row {i} asks to write a function that adds two numbers"} for i in range(3)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = {
        "stages": [{"use": "read", "path": str(data)}, stage],
        "output": {"dir": str(tmp / "run")},
    }
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def refused(tmp: Path, stage: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the config; assert exit 2, one line, nothing written; return the line."""
    path = write_config(tmp, stage)
    before = sorted(tmp.rglob("*"))
    code = run_main(["run", path])
    err = capsys.readouterr().err.splitlines()
    assert code == 2, err
    assert len(err) == 1, err
    assert sorted(tmp.rglob("*")) == before  # no run directory, no lock
    return err[0]


def semantic_judge_stage(tmp: Path, backend: dict[str, Any] | None = None) -> dict[str, Any]:
    """decontaminate with a one-row benchmark and its semantic judge (on `backend`, or
    the pipeline's when None)."""
    bench = tmp / "bench.jsonl"
    bench.write_text(json.dumps({"prompt": "Write a function that adds two numbers."}) + "\n")
    semantic: dict[str, Any] = {"judge": True} | ({"backend": backend} if backend else {})
    return {
        "use": "decontaminate",
        "benchmarks": [{"name": "mine", "path": str(bench), "columns": ["prompt"]}],
        "semantic": semantic,
    }


def test_a_dead_judge_inside_decontaminates_semantic_pass_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = closed_url()
    stage = semantic_judge_stage(tmp_path, backend=openai(url))
    line = refused(tmp_path, stage, capsys)
    assert line == (
        f"error: backend openai (stages.1.semantic.backend) unreachable at {url}: "
        "cannot connect (Connection refused); start the server or fix base_url"
    )


def test_dead_backends_in_a_list_and_a_mapping_are_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use = f"{__name__}:PanelStage"
    alive, dead = free_port(), closed_url()
    with socket.socket() as server:  # a listening port: the first judge is reachable
        server.bind(("127.0.0.1", alive))
        server.listen()
        judges = [openai(f"http://127.0.0.1:{alive}/v1"), openai(dead)]
        line = refused(tmp_path, {"use": use, "panel": {"judges": judges}}, capsys)
        want = f"error: backend openai (stages.1.panel.judges.1) unreachable at {dead}"
        assert line.startswith(want)
    other = closed_url()
    line = refused(tmp_path, {"use": use, "panel": {"by_name": {"strict": openai(other)}}}, capsys)
    assert "(stages.1.panel.by_name.strict) unreachable at" in line and other in line


def test_an_unset_api_key_of_a_nested_backend_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_KEY_SET", raising=False)
    backend = {**openai(closed_url()), "api_key_env": "NO_SUCH_KEY_SET"}
    stage = {"use": f"{__name__}:PanelStage", "panel": {"judges": [backend]}}
    line = refused(tmp_path, stage, capsys)
    assert line.startswith("error: stages.1.panel.judges.0.api_key_env: environment variable")


def test_the_walk_names_every_nested_model_once() -> None:
    from synthmill.llm.registry import make_backend

    shared = make_backend({"type": "fake"})
    stage = PanelStage(panel=Panel(judges=[shared, shared], by_name={"a": make_backend(None)}))
    paths = [p for p, _ in models_within(stage, "stages.4")]
    assert paths == ["stages.4.panel", "stages.4.panel.judges.0", "stages.4.panel.by_name.a"]


def test_the_pipeline_backend_reaches_a_nested_judge_and_is_checked_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`backend:` at the top is every stage's default, also for a backend nested in an
    option: decontaminate's semantic judge used the embedded 135M model instead."""
    from synthmill import Pipeline
    from synthmill.llm.fake import FakeBackend

    url = closed_url()
    stage = semantic_judge_stage(tmp_path)
    path = write_config(tmp_path, stage)
    config = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**config, "backend": openai(url)}))
    before = sorted(tmp_path.rglob("*"))
    assert run_main(["run", path]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: backend openai (stages.1.semantic.backend) unreachable at {url}: "
        "cannot connect (Connection refused); start the server or fix base_url"
    ]
    assert sorted(tmp_path.rglob("*")) == before
    own = {**stage, "semantic": {"judge": True, "backend": {"type": "llamacpp"}}}
    built = Pipeline.from_config({**config, "backend": {"type": "fake"}, "stages": [
        config["stages"][0], stage, own]})  # fmt: skip
    assert isinstance(built.stages[1].semantic.backend, FakeBackend)  # type: ignore[attr-defined]
    assert type(built.stages[2].semantic.backend).__name__ == "LlamaCppBackend"  # type: ignore[attr-defined]
