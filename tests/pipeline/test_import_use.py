"""Custom stages by import path in YAML, plugins in `synthmill stages`, and a Python-built
pipeline whose Reproduce YAML (card and config.yaml) runs as written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from synthmill import ConfigError, Pipeline
from synthmill.io.records_io import read_records
from tests.conftest import REPO

CLI = [sys.executable, "-m", "synthmill"]


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def data(root: Path) -> list[dict[str, object]]:
    return [r.data for f in sorted((root / "data").glob("*.parquet")) for r in read_records(f)]


def write_input(folder: Path) -> Path:
    src = folder / "data" / "in.jsonl"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_text('{"text": "hello"}\n{"text": "world"}\n')
    return src


def test_use_by_import_path_runs_and_writes_itself_back(tmp_path: Path) -> None:
    src = write_input(tmp_path)
    config = {
        "stages": [
            {"use": "read", "path": str(src)},
            {"use": "tests.pipeline.custom_stages:Shout", "suffix": "?"},
        ],
        "output": {"dir": str(tmp_path / "run")},
    }
    p = Pipeline.from_config(config)
    assert p.to_config()["stages"][1] == {
        "use": "tests.pipeline.custom_stages:Shout",
        "suffix": "?",
    }
    assert sorted(r["text"] for r in data(p.run().root)) == ["HELLO?", "WORLD?"]


@pytest.mark.parametrize(
    ("use", "message"),
    [
        ("nosuchpkg.steps:Thing", "cannot import 'nosuchpkg.steps'"),
        ("tests.pipeline.custom_stages:Nope", "has no 'Nope'"),
        ("tests.pipeline.custom_stages:NotAStage", "is not a synthmill Stage subclass"),
        ("tests.pipeline.broken_stages:X", "RuntimeError: half-written module"),
        (":Thing", "stages.0.use"),
    ],
)
def test_bad_import_path_is_one_line(use: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        Pipeline.from_config({"stages": [{"use": use}], "output": {"dir": "x"}})
    assert "\n" not in str(info.value) and str(info.value).startswith("stages.0.use")


SCRIPT = """
from pathlib import Path
from typing import ClassVar

from synthmill import Output, Pipeline, Stage
from synthmill.sources.read import Read


class Reverse(Stage):
    kind: ClassVar[str] = "reverse"

    def process(self, batch, ctx):
        return [r.with_data(text=r.data["text"][::-1]) for r in batch]


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    Pipeline(name="py", seed=3,
             stages=[Read(path=str(here / "data" / "in.jsonl")), Reverse()],
             output=Output(dir=here / "runs" / "py")).run()
"""


@pytest.mark.slow
def test_python_built_pipeline_reproduces_from_its_config_and_card(tmp_path: Path) -> None:
    write_input(tmp_path)
    (tmp_path / "make_data.py").write_text(textwrap.dedent(SCRIPT))
    env = {"PYTHONPATH": str(REPO / "src")}
    made = subprocess.run(
        [sys.executable, "make_data.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )
    assert made.returncode == 0, made.stderr
    root = tmp_path / "runs/py"
    config = yaml.safe_load((root / "config.yaml").read_text())
    assert [s["use"] for s in config["stages"]] == ["read", "make_data:Reverse"]
    assert config["stages"][0]["path"] == "data/in.jsonl" and config["output"]["dir"] == "runs/py"
    card = (root / "README.md").read_text()
    reproduce = card.split("## Reproduce", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "reproduce.yaml").write_text(reproduce)
    again = cli("run", "reproduce.yaml", "--set", "output.dir=runs/again", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert data(tmp_path / "runs/again") == data(root) == [{"text": "olleh"}, {"text": "dlrow"}]


@pytest.mark.slow
def test_stages_lists_entry_point_plugins_and_runs_them(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "myplugin").mkdir(parents=True)
    (site / "myplugin/__init__.py").write_text(
        "from tests.pipeline.custom_stages import Shout\n\n\n"
        'class Loud(Shout):\n    """A plugin stage that shouts."""\n\n    kind = \'myplug.loud\'\n'
    )
    info = site / "myplugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: myplugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[synthmill.stages]\nmyplug.loud = myplugin:Loud\n")
    env = {"PYTHONPATH": os.pathsep.join([str(site), str(REPO)]), "COLUMNS": "200"}
    listed = cli("stages", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "myplug.loud" in listed.stdout and "generate" in listed.stdout
    src = write_input(tmp_path)
    (tmp_path / "p.yaml").write_text(
        json.dumps(
            {
                "stages": [{"use": "read", "path": str(src)}, {"use": "myplug.loud"}],
                "output": {"dir": "out"},
            }
        )
    )
    ran = cli("run", "p.yaml", cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stderr
    assert sorted(r["text"] for r in data(tmp_path / "out")) == ["HELLO!", "WORLD!"]
    config = yaml.safe_load((tmp_path / "out/config.yaml").read_text())
    assert config["stages"][1] == {"use": "myplug.loud"}
