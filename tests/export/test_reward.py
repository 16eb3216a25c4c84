"""The README's reward functions, run as written on an `rl` / `verl` export."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from datasets import load_dataset

from synthmill.export import export
from tests.export.runs import GOLD, problems_run, rejection_run

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_rewards() -> dict[str, Any]:
    """Execute the README's reward example and return its namespace."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    (code,) = [b for b in blocks if "def reward(completions" in b]
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace


def test_the_grpo_reward_scores_completions_against_the_rl_export(tmp_path: Path) -> None:
    reward = readme_rewards()["reward"]
    export(rejection_run(tmp_path), tmp_path / "rl.jsonl", "rl")
    data = load_dataset("json", data_files=str(tmp_path / "rl.jsonl"), split="train")
    kwargs = {c: data[c] for c in data.column_names if c != "prompt"}
    right = [
        [{"role": "assistant", "content": f"So it is \\boxed{{{a}}}."}] for a in data["answer"]
    ]
    assert reward(right, **kwargs) == [1.0] * len(GOLD)
    wrong = [[{"role": "assistant", "content": f"Answer: {a}1"}] for a in data["answer"]]
    assert reward(wrong, **kwargs) == [0.0] * len(GOLD)
    gold42 = ["42"] * 5
    hedges = ["Answer: 41 or 42", "Answer: 42 \\pm 1", "\\boxed{41} \\boxed{42}", "Answer: 42%", ""]
    assert reward(hedges, gold42) == [0.0] * 5  # a policy cannot collect reward by hedging
    said = {"42": "The answer is 42.", "3/4": "It is 0.75", "5": "x = 6"}  # plain completions
    golds = [GOLD[p[0]["content"]] for p in data["prompt"]]
    assert reward([said[g] for g in golds], golds) == [float(g != "5") for g in golds]


def test_the_verl_score_reads_ground_truth(tmp_path: Path) -> None:
    compute_score = readme_rewards()["compute_score"]
    result = export(rejection_run(tmp_path), tmp_path / "v.parquet", "verl")
    for row in pq.read_table(result.path).to_pylist():  # called as verl's reward manager does
        truth = row["reward_model"]["ground_truth"]
        given = {"data_source": row["data_source"], "extra_info": row["extra_info"]}
        assert compute_score(solution_str=f"Answer: {truth}", ground_truth=truth, **given) == 1.0
        assert compute_score(solution_str="Answer: 7/9", ground_truth=truth, **given) == 0.0


@pytest.mark.sandbox
def test_the_code_reward_runs_the_exported_tests(tmp_path: Path) -> None:
    code_reward = readme_rewards()["code_reward"]
    root = problems_run(tmp_path, n=8, families=["arithmetic.integer", "code.function"])
    export(root, tmp_path / "rl.jsonl", "rl")
    data = load_dataset("json", data_files=str(tmp_path / "rl.jsonl"), split="train")
    kwargs = {c: data[c] for c in data.column_names if c != "prompt"}
    code = [k == "code" for k in data["kind"]]
    assert any(code) and not all(code)
    right = [[{"role": "assistant", "content": f"```python\n{a}\n```"}] for a in data["answer"]]
    assert code_reward(right, **kwargs) == [1.0 if c else None for c in code]
    broken = [f"def {e or 'f'}(*args):\n    return None\n" for e in data["entry_point"]]
    assert code_reward(broken, **kwargs) == [0.0 if c else None for c in code]
