"""verify.code and verify.math as pipeline stages: real runs, real sandbox, real rejects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from synthmill import Pipeline
from synthmill.errors import RunFailedError
from synthmill.problems.humaneval import load_humaneval
from synthmill.verify.code_check import run_solution
from synthmill.verify.sandbox import Limits

pytestmark = pytest.mark.sandbox


def _rows(root: Path) -> list[dict[str, object]]:
    return [
        r for f in sorted((root / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()
    ]


def _rejects(root: Path) -> list[dict[str, object]]:
    return [json.loads(line) for f in root.glob("rejects/*/*.jsonl") for line in f.open()]


@pytest.mark.slow
def test_humaneval_canonical_solutions_pass_and_broken_ones_fail() -> None:
    tasks = load_humaneval()
    assert len(tasks) == 164

    def run(task: dict[str, str]) -> tuple[str, str, str]:
        good = run_solution(
            task["prompt"] + task["canonical_solution"], task["test"], task["entry_point"]
        )
        body = task["canonical_solution"].rstrip().splitlines()
        broken = "\n".join(body[:-1]) + "\n    return None\n" if len(body) > 1 else "    pass\n"
        bad = run_solution(task["prompt"] + broken, task["test"], task["entry_point"])
        return task["task_id"], good.status, bad.status

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, tasks))
    assert [r for r in results if r[1] != "passed"] == []
    assert [r for r in results if r[2] == "passed"] == []


def _code_pipeline(tmp_path: Path, solution: str) -> dict[str, object]:
    return {
        "name": "code",
        "seed": 1,
        "stages": [
            {"use": "problems", "n": 12, "families": ["code"], "difficulties": [1, 3, 5]},
            {"use": "map", "function": f"tests.verify.steps:{solution}"},
            {"use": "verify.code", "wall_seconds": 5, "cpu_seconds": 2, "concurrency": 2,
             "batch_size": 3},
        ],
        "output": {"dir": str(tmp_path / solution)},
    }  # fmt: skip


def test_reference_solutions_pass_in_a_pipeline(tmp_path: Path) -> None:
    result = Pipeline.from_config(_code_pipeline(tmp_path, "reference")).run()
    rows = _rows(result.root)
    assert len(rows) == 12
    assert all(json.loads(r["_meta"]["verdicts"])["verify.code"]["ok"] for r in rows)  # type: ignore[index, arg-type]


def test_hostile_solutions_are_rejected_with_reasons(tmp_path: Path) -> None:
    every = r"^every row was rejected by 'verify.code' \(12 rejected: "
    with pytest.raises(RunFailedError, match=every):  # nothing survives: nothing published
        Pipeline.from_config(_code_pipeline(tmp_path, "hostile")).run()
    root = tmp_path / "hostile"
    assert not (root / "data").exists()
    rejects = _rejects(root)
    assert len(rejects) == 12
    reasons = {r["reason"] for r in rejects}
    assert reasons <= {"failed", "timeout", "memory", "output_limit", "process_limit", "killed"}
    assert len(reasons) >= 3
    assert all(r["raw"]["sandboxed"] for r in rejects)


def test_math_check_in_a_pipeline(tmp_path: Path) -> None:
    config = {
        "name": "math",
        "stages": [
            {"use": "problems", "n": 40, "families": ["arithmetic", "algebra", "probability"]},
            {"use": "map", "function": "tests.verify.steps:half_right"},
            {"use": "verify.math"},
        ],
        "output": {"dir": str(tmp_path / "math")},
    }
    result = Pipeline.from_config(config).run()
    kept, rejected = _rows(result.root), _rejects(result.root)
    rows: list[dict[str, Any]] = rejected
    assert len(kept) + len(rejected) == 40
    assert all(str(r["solution"]).startswith("Correct") for r in kept)
    assert all(r["row"]["solution"].startswith("Wrong") for r in rows)
    assert {r["reason"] for r in rejected} <= {"wrong", "no answer"}
    assert len(kept) > 10 and len(rejected) > 10


def test_cli_refuses_untrusted_code_without_bubblewrap(tmp_path: Path) -> None:
    config = _code_pipeline(tmp_path, "reference")
    path = tmp_path / "code.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PATH": str(tmp_path)}  # no bwrap on this PATH
    cmd = [sys.executable, "-m", "synthmill", "run", str(path)]
    refused = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    assert refused.returncode == 2
    last = refused.stderr.strip().splitlines()[-1]  # progress bars come before it
    assert last.startswith("error: ") and "--unsafe-no-sandbox" in last and "bubblewrap" in last
    allowed = subprocess.run(
        [*cmd, "--unsafe-no-sandbox", "--overwrite"], capture_output=True, text=True, env=env,
        check=False,
    )  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr
    assert len(_rows(tmp_path / "reference")) == 12


def test_limits_are_applied() -> None:
    tight = Limits(wall_seconds=5, memory_mb=64)
    result = run_solution(
        "def f():\n    return bytearray(10**8)\n", "def check(c):\n    c()\n", "f", limits=tight
    )
    assert result.status == "memory"


HOSTILE_MATH = [
    # (problem, gold, solution, kept)
    ("What percent of 80 is 20?", "25", "So it is 25%.\nAnswer: 25\\%", True),
    ("What is 13 + 0?", "13", "Answer: 13\\%", False),
    ("What is 13 + 0?", "13", "Answer: 13 or 14", False),
    ("What is 13 + 0?", "13", "$\\boxed{13}$ or $\\boxed{14}$", False),
    ("What is 13 + 0?", "13", "$\\boxed{12 = 13}$", False),
    ("Simplify.", "x^2 - 1", "$\\boxed{(x - 1)(x + 1)}$", True),
    ("Simplify.", "x^2 - 1", "$\\boxed{(x - 1)^2}$", False),
    ("Write 7/4 as a mixed number.", "7/4", "Answer: 1 3/4", True),
]


def test_math_check_batch_uses_the_question_and_rejects_hedges(tmp_path: Path) -> None:
    data = tmp_path / "rows.jsonl"
    rows = [{"problem": p, "answer": g, "solution": s} for p, g, s, _ in HOSTILE_MATH]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = {
        "name": "hostile-math",
        "stages": [{"use": "read", "path": str(data)}, {"use": "verify.math", "workers": 2}],
        "output": {"dir": str(tmp_path / "out")},
    }
    result = Pipeline.from_config(config).run()
    kept = {r["solution"] for r in _rows(result.root)}
    assert kept == {s for _, _, s, ok in HOSTILE_MATH if ok}
    rejects: list[dict[str, Any]] = _rejects(result.root)
    reasons = {r["row"]["solution"]: r for r in rejects}
    assert all(r["reason"] == "wrong" for r in reasons.values())
    hedge = reasons["Answer: 13 or 14"]["raw"]
    assert hedge["method"] == "exact" and "several values" in hedge["detail"]
