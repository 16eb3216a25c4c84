"""Every pipeline in examples/ runs in a test (issue 19: seven of them never ran in one).

Examples whose recipes have their own test module run there (the test is named below and
must name the example file); the rest run here through the real CLI, from a copy of
examples/ (their paths are relative), with small `n` and the embedded model where the
example uses one.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO
from tests.helpers import MAY_BE_EMPTY

# Example -> the test elsewhere that runs it (checked: the test exists and names the file).
EMBEDDED = "test_embedded_model_run_from_the_example"
ELSEWHERE = {
    "backtranslate.yaml": f"tests/recipes/test_backtranslate.py::{EMBEDDED}",
    "cloze.yaml": "tests/pipeline/test_cli.py::test_cloze_example_runs_and_inspects",
    "magpie.yaml": "tests/recipes/test_magpie.py::"
    "test_example_runs_with_the_fake_backend_and_caches_both_calls",
    "constitutional.yaml": f"tests/recipes/test_constitutional.py::{EMBEDDED}",
    "mix.yaml": "tests/test_mix.py::test_mix_example_runs",
    "multiturn.yaml": f"tests/recipes/test_multiturn.py::{EMBEDDED}",
    "oss_instruct.yaml": f"tests/recipes/test_oss_instruct.py::{EMBEDDED}",
    "preference.yaml": f"tests/recipes/test_preference.py::{EMBEDDED}",
    "problems.yaml": "tests/problems/test_source.py::test_cli_runs_the_example",
    "quickstart.yaml": "tests/recipes/test_generate_quickstart.py::"
    "test_quickstart_samples_asks_answers_and_filters",
    "rephrase.yaml": f"tests/recipes/test_rephrase.py::{EMBEDDED}",
    "self_instruct_quickstart.yaml": "tests/recipes/test_embedded.py::"
    "test_quickstart_example_end_to_end",
    "support_tickets.yaml": "tests/recipes/test_generate.py::"
    "test_support_tickets_example_runs_with_the_fake_backend",
    "textbook.yaml": f"tests/recipes/test_textbook.py::{EMBEDDED}",
}
# Example -> --set overrides that keep it small (the embedded model runs on one thread).
HERE: dict[str, list[str]] = {
    "curate.yaml": [],
    "humaneval.yaml": ["stages.0.limit=6"],
    "distill.yaml": ["stages.0.limit=2", "stages.1.max_tokens=60"],
    "docqa.yaml": ["stages.0.limit=1", "stages.2.questions=1"],
    "evol_instruct.yaml": ["stages.0.limit=1", "stages.4.max_tokens=60"],
    "rejection_sampling.yaml": [
        "stages.0.n=1",
        "stages.0.families=[arithmetic.integer]",
        "stages.1.k=1",
        "backend={type: llamacpp, n_threads: 1}",
    ],
    "self_instruct.yaml": ["stages.0.n=1"],
    "textbook_topics.yaml": [
        "stages.0.limit=6",
        "stages.1.clusters=2",
        "stages.1.per_topic=1",
        "stages.2.max_tokens=60",
    ],
}
MODEL = {"distill.yaml", "docqa.yaml", "evol_instruct.yaml", "rejection_sampling.yaml",
         "self_instruct.yaml", "textbook_topics.yaml"}  # fmt: skip


def test_every_example_runs_in_some_test() -> None:
    examples = {p.name for p in (REPO / "examples").glob("*.yaml")}
    assert examples == set(ELSEWHERE) | set(HERE), "add the new example to ELSEWHERE or HERE"
    assert not set(ELSEWHERE) & set(HERE)
    for name, test in ELSEWHERE.items():
        path, func = test.split("::")
        source = (REPO / path).read_text()
        body = source.split(f"def {func}(", 1)
        assert len(body) == 2, f"{test} does not exist"
        assert f"examples/{name}" in body[1].split("\ndef ", 1)[0], f"{test} does not run {name}"


def run_example(tmp_path: Path, name: str, *more: str) -> subprocess.CompletedProcess[str]:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    sets = [arg for o in [*HERE[name], "output.dir=out", *more] for arg in ("--set", o)]
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    cmd = [sys.executable, "-m", "synthmill", "run", f"examples/{name}", *sets]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)


def published(root: Path) -> list[dict[str, Any]]:
    return [
        r for f in sorted((root / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()
    ]


def rejected(root: Path) -> list[dict[str, Any]]:
    files = sorted((root / "rejects").rglob("*.jsonl")) if (root / "rejects").exists() else []
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def check_accounting(root: Path) -> dict[str, Any]:
    """Every stage's rows in are its rows out plus its rejects; the card names every stage."""
    stats = json.loads((root / "stats.json").read_text())
    labels = list(stats["stages"])
    for before, after in itertools.pairwise(labels):
        assert stats["stages"][after]["rows_in"] == stats["stages"][before]["rows_out"], after
    assert len(published(root)) == stats["rows"] == stats["stages"][labels[-1]]["rows_out"]
    total = sum(s["rejected_total"] for s in stats["stages"].values())
    assert len(rejected(root)) == total
    card = (root / "README.md").read_text()
    assert all(f"| {label} |" in card for label in labels)
    return stats


def test_curate_example_removes_each_planted_problem(tmp_path: Path) -> None:
    """examples/data/curate.jsonl plants: two non-English rows (9, 10), link spam (11), an
    exact copy (6) and near-copies (7, 8) of rows 0 and 1, and a HumanEval prompt (12)."""
    done = run_example(tmp_path, "curate.yaml")
    assert done.returncode == 0, done.stderr
    root = tmp_path / "out"
    check_accounting(root)
    by_stage: dict[str, set[int]] = {}
    for d in rejected(root):
        by_stage.setdefault(d["stage"], set()).add(d["row"]["doc_id"])
    assert by_stage == {
        "filter.language": {9, 10},
        "filter.quality": {11},
        "dedup.exact": {6},
        "dedup.minhash": {7, 8},
        "decontaminate": {12},
    }
    assert sorted(r["doc_id"] for r in published(root)) == [0, 1, 2, 3, 4, 5, 13, 14]


@pytest.mark.sandbox
def test_humaneval_example_passes_the_canonical_solutions(tmp_path: Path) -> None:
    done = run_example(tmp_path, "humaneval.yaml")
    assert done.returncode == 0, done.stderr
    rows = published(tmp_path / "out")
    assert [r["task_id"] for r in rows] == [f"HumanEval/{i}" for i in range(6)]
    assert all(json.loads(r["_meta"]["verdicts"])["verify.code"]["ok"] for r in rows)


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.parametrize("name", sorted(MODEL))
def test_model_example_runs_with_the_embedded_model(tmp_path: Path, name: str) -> None:
    done = run_example(tmp_path, name, MAY_BE_EMPTY)  # the 135M model may keep no row
    assert done.returncode == 0, done.stderr
    root = tmp_path / "out"
    stats = check_accounting(root)
    first = next(iter(stats["stages"].values()))
    assert first["rows_out"] >= 1
    # every row the first model stage was given got a call (textbook_topics' documents
    # reach the model as clusters, one call each, so count the rows the model stage kept
    # there; elsewhere the rows it was given); not served from anywhere else
    model = next(s for s in stats["stages"].values() if "llm.calls" in s["counters"])
    given = model["rows_out"] if name == "textbook_topics.yaml" else model["rows_in"]
    assert given >= 1 and model["counters"]["llm.calls"] >= given, model
    for row in published(root):
        meta = row["_meta"]
        if meta["model"] is not None:
            assert meta["model"].startswith("SmolLM2") and meta["prompt_hash"]
    card = (root / "README.md").read_text()
    assert "llm.calls" in card  # the card counts the model calls of each stage
    if published(root):
        assert re.search(r"`SmolLM2[^`]*`: \d+ rows", card)
