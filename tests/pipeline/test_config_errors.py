"""Bad configs: each gives one clear line naming the key and the fix, exit 2, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import run_main

GOOD: dict[str, Any] = {
    "name": "t",
    "stages": [{"use": "read", "path": "DATA"}, {"use": "filter.length", "min_chars": 3}],
    "output": {"dir": "OUT"},
}


def variant(**changes: Any) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(yaml.safe_dump(GOOD))
    for dotted, value in changes.items():
        node: Any = config
        *head, last = dotted.split("__")
        for part in head:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is DELETE:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value
    return config


DELETE = object()

CASES = [
    (
        variant(stages__1__min_chras=3),
        [],
        "stages.1.min_chras: unknown key; did you mean 'min_chars'?",
    ),
    (
        variant(stages__1__min_chars="many"),
        [],
        "stages.1.min_chars: Input should be a valid integer",
    ),
    (
        variant(stages__1__use="filter.lenght"),
        [],
        "stages.1.use: unknown stage 'filter.lenght'; did you mean 'filter.length'?",
    ),
    (
        variant(stages__0__path="missing.jsonl"),
        [],
        "stages.0.path: no file matches 'missing.jsonl'",
    ),
    (variant(seeed=3), [], "seeed: unknown key; did you mean 'seed'?"),
    (variant(seed="x"), [], "seed: Input should be a valid integer"),
    (variant(output=DELETE), [], "output: required key is missing; add it"),
    (variant(stages=[]), [], "stages: required list of stages is missing or empty"),
    (
        variant(stages__1=DELETE, stages__0={"path": "DATA"}),
        [],
        "stages.0: each stage needs a 'use:' key",
    ),
    (variant(stages__0={"use": "filter.length"}), [], "the first stage must be a source"),
    (variant(output__format="xml"), [], "output.format: Input should be 'parquet' or 'jsonl'"),
    (
        variant(stages__1__batch_size=0),
        [],
        "stages.1.batch_size: Input should be greater than or equal to 1",
    ),
    (
        variant(stages__1__executor="gpu"),
        [],
        "stages.1.executor: Input should be 'thread', 'process' or 'ray'",
    ),
    (GOOD, ["stages.5.n=3"], "--set stages.5.n=3: stages.5 is not an index of a list of 2"),
    (GOOD, ["nokey"], "--set 'nokey': write it as key.path=value"),
    (
        GOOD,
        ["filter.length.min_char=3"],
        "stages.1.min_char: unknown key; did you mean 'min_chars'?",
    ),
    (
        variant(stages__1__function="nope:fn", stages__1__use="map"),
        [],
        "stages.1.function: cannot import 'nope'",
    ),
]


def materialize(config: Any, tmp: Path) -> Path:
    text = (
        yaml.safe_dump(config)
        .replace("DATA", str(tmp / "in.jsonl"))
        .replace("OUT", str(tmp / "out"))
    )
    text = text.replace(str(tmp / "in.jsonl").replace("in.jsonl", "missing.jsonl"), "missing.jsonl")
    (tmp / "in.jsonl").write_text('{"text": "hello world"}\n')
    path = tmp / "pipeline.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("config", "sets", "expected"), CASES)
def test_bad_config_gives_one_line(
    config: Any,
    sets: list[str],
    expected: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = materialize(config, tmp_path)
    args = ["run", str(path)] + [a for s in sets for a in ("--set", s)]
    assert run_main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("error: ") and expected in err, err
    assert not (tmp_path / "out").exists(), "a bad config must write nothing"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: [unclosed", "at line 1"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_bad_yaml(
    text: str,
    expected: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert run_main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err, err


def test_missing_config_file_from_a_real_process(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "synthmill", "run", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: config file not found: {tmp_path / 'nope.yaml'} (check the path)"
    ]
    assert "Traceback" not in proc.stderr


def test_run_dir_of_another_config_is_refused_and_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = materialize(GOOD, tmp_path)
    assert run_main(["run", str(path)]) == 0
    before = sorted(p.read_bytes() for p in (tmp_path / "out" / "data").iterdir())
    assert run_main(["run", str(path), "--set", "stages.1.min_chars=5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "stages.1.min_chars differs" in err and "--overwrite" in err
    assert sorted(p.read_bytes() for p in (tmp_path / "out" / "data").iterdir()) == before
    assert run_main(["run", str(path), "--set", "stages.1.min_chars=5", "--overwrite"]) == 0
