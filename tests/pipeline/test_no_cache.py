"""`synthmill run --no-cache` (and `cache: false`) really calls the model again (issue 19)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import run_main

FAKE = {"type": "fake", "function": "tests.recipes.replies:reply", "model": "fake-teacher"}


def config(tmp_path: Path, out: str, **extra: Any) -> Path:
    cfg = {
        "name": "nocache",
        "seed": 5,
        "backend": FAKE,
        "stages": [{"use": "self_instruct", "n": 4}],
        "output": {"dir": str(tmp_path / out)},
        **extra,
    }
    path = tmp_path / f"{out}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def run(path: Path, *flags: str) -> dict[str, int]:
    """`synthmill run PATH FLAGS` in this process, as the console script runs it."""
    code = run_main(["run", path, *flags])
    assert code == 0, f"synthmill run exited {code}"
    stats = json.loads((path.parent / path.stem / "stats.json").read_text())
    counters: dict[str, int] = stats["stages"]["self_instruct"]["counters"]
    return counters


def test_no_cache_pays_for_every_call_again(tmp_path: Path) -> None:
    first = run(config(tmp_path, "first"))
    assert first["llm.calls"] == 4 and first.get("llm.cache_hits", 0) == 0
    cached = run(config(tmp_path, "cached"))  # the control: the cache answers everything
    assert cached["llm.cache_hits"] == 4 and cached.get("llm.calls", 0) == 0
    fresh = run(config(tmp_path, "fresh"), "--no-cache")
    assert fresh["llm.calls"] == 4 and fresh.get("llm.cache_hits", 0) == 0


def test_cache_false_in_the_config_does_the_same(tmp_path: Path) -> None:
    run(config(tmp_path, "first"))
    fresh = run(config(tmp_path, "fresh", cache=False))
    assert fresh["llm.calls"] == 4 and fresh.get("llm.cache_hits", 0) == 0
