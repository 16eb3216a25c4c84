"""Rejection sampling: pass@k math, verified pairs, self-consistency; fake and real model."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from synthmill import Pipeline, StageContext
from synthmill.llm.base import Completion, Request
from synthmill.llm.fake import FakeBackend
from synthmill.problems.source import Problems
from synthmill.recipes.rejection_sampling import (
    RejectionSampling,
    majority,
    pass_at_k,
    passk_report,
)
from synthmill.records import Record


# ---- the estimator ---------------------------------------------------------------------------
def _by_enumeration(n: int, c: int, k: int) -> Fraction:
    """pass@k by definition: the share of k-subsets of the n samples with a correct one."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return Fraction(sum(any(samples[i] for i in s) for s in subsets), len(subsets))


def test_pass_at_k_is_the_unbiased_estimator() -> None:
    for n in range(1, 8):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(float(_by_enumeration(n, c, k)))
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="needs at least"):
        pass_at_k(2, 1, 3)


def test_majority_groups_equivalent_answers() -> None:
    assert majority(["12", "12.0", "7", "24/2"]) == ("12", 0.75)
    assert majority(["1/2", "0.5", "x", "y"]) == ("1/2", 0.5)
    assert majority(["(1, 2)", "(2, 1)", "(1, 2)"])[1] == pytest.approx(2 / 3)
    assert majority(["3, -2", "-2, 3", None, None]) == ("3, -2", 0.5)
    assert majority([None, None]) == (None, 0.0)


# ---- a scripted backend: right when the request's seed is even -------------------------------
class Scripted(FakeBackend):
    """Knows the gold answers; replies correctly exactly when the request seed is even."""

    answers: dict[str, str] = {}
    votes: list[str] = ["12", "12.0", "24/2", "7"]

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        return [Completion(self._reply(r), self.model) for r in requests]

    def _reply(self, request: Request) -> str:
        question = request.messages[-1]["content"]
        seed = request.seed or 0
        gold = self.answers.get(question)
        if gold is None:
            return json.dumps({"solution": "I counted.", "answer": self.votes[seed % 4]})
        if "def check" in gold:  # a code problem: gold holds the reference function
            code = gold.split("\n\x00")[0] if seed % 2 == 0 else "def nothing():\n    pass\n"
            return json.dumps({"code": code})
        answer = gold if seed % 2 == 0 else f"{gold}9"
        return json.dumps({"solution": "Working it out.", "answer": answer})


def _seeds(stage: RejectionSampling, seed: int, rid: str) -> list[int]:
    ctx = StageContext(seed=seed, stage=stage.label)
    return [ctx.rng("call", (rid, j)).randrange(2**31) for j in range(stage.k)]


def _problems(n: int, families: list[str]) -> list[Record]:
    source = Problems(n=n, families=families, difficulties=[1, 2])
    return list(source.rows(StageContext(seed=5, stage="problems")))


def _run(tmp_path: Path, source: Any, stage: RejectionSampling, allow_empty: bool = False) -> Path:
    pipeline = Pipeline(
        seed=5, stages=[source, stage], output={"dir": tmp_path / "run"}, allow_empty=allow_empty
    )
    return pipeline.run().root


def _read(root: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows = [r for f in (root / "data").glob("*.parquet") for r in pq.read_table(f).to_pylist()]
    rejects = [json.loads(x) for f in root.glob("rejects/*/*.jsonl") for x in f.open()]
    return rows, rejects


def test_keeps_correct_samples_and_reports_pass_at_k(tmp_path: Path) -> None:
    source = Problems(n=16, families=["arithmetic", "algebra"], difficulties=[1, 2])
    problems = _problems(16, ["arithmetic", "algebra"])
    backend = Scripted(answers={r.data["problem"]: r.data["answer"] for r in problems})
    stage = RejectionSampling(backend=backend, k=4)
    rows, rejects = _read(root := _run(tmp_path, source, stage))

    expected = {r.meta.id: sum(s % 2 == 0 for s in _seeds(stage, 5, r.meta.id)) for r in problems}
    assert len(rows) == sum(expected.values())
    assert {r["_meta"]["parents"][0] for r in rows} == {i for i, c in expected.items() if c}
    assert {r["_meta"]["id"] for r in rejects} == {i for i, c in expected.items() if not c}
    assert all(
        r["reason"] == "no correct sample" and len(r["raw"]["samples"]) == 4 for r in rejects
    )
    for row in rows:
        assert row["n_correct"] == expected[row["_meta"]["parents"][0]]
        assert row["solution"].endswith(f"Answer: {row['answer']}")
        assert row["_meta"]["model"] == "fake" and row["_meta"]["recipe"] == "rejection_sampling"

    report = passk_report(root)
    counts = list(expected.values())
    assert report["all"]["problems"] == 16
    assert report["all"]["pass@1"] == pytest.approx(sum(c / 4 for c in counts) / 16, abs=1e-4)
    assert report["all"]["pass@4"] == pytest.approx(sum(c > 0 for c in counts) / 16, abs=1e-4)
    stats = json.loads((root / "stats.json").read_text())
    assert stats["stages"]["rejection_sampling"]["summary"] == report  # the summarize() hook
    card = (root / "README.md").read_text()
    assert "## rejection_sampling: summary" in card
    assert f"| all | 16 | 4 | {report['all']['pass@1']} | {report['all']['pass@4']} |" in card
    families = {r.data["family"] for r in problems}
    assert families <= set(report) and all(
        f"{f}/d1" in report or f"{f}/d2" in report for f in families
    )


def test_self_consistency_for_problems_without_gold(tmp_path: Path) -> None:
    data = tmp_path / "open.jsonl"
    data.write_text(
        "".join(json.dumps({"problem": f"Puzzle {i}?", "answer": ""}) + "\n" for i in range(10))
    )
    from synthmill.sources.read import Read

    stage = RejectionSampling(backend=Scripted(), k=4, min_agreement=0.5)
    rows, rejects = _read(_run(tmp_path, Read(path=str(data)), stage))
    assert len(rows) + len(rejects) == 10
    for row in rows:
        seeds = _seeds(stage, 5, row["_meta"]["parents"][0])
        twelve = sum(s % 4 != 3 for s in seeds) / 4  # "12", "12.0" and "24/2" vote together
        assert row["agreement"] == pytest.approx(max(twelve, 1 - twelve))
        assert row["answer"] in ("12", "12.0", "24/2", "7") and row["agreement"] >= 0.5
    assert all(r["reason"] == "no majority" for r in rejects)


@pytest.mark.sandbox
def test_code_problems_are_verified_in_the_sandbox(tmp_path: Path) -> None:
    source = Problems(n=6, families=["code"], difficulties=[1, 2])
    problems = _problems(6, ["code"])
    answers = {r.data["problem"]: r.data["answer"] + "\n\x00" + r.data["tests"] for r in problems}
    stage = RejectionSampling(backend=Scripted(answers=answers), k=2)
    rows, rejects = _read(_run(tmp_path, source, stage))
    expected = {r.meta.id: sum(s % 2 == 0 for s in _seeds(stage, 5, r.meta.id)) for r in problems}
    assert len(rows) == sum(expected.values())
    assert all(r["solution"].startswith("```python\ndef ") for r in rows)
    verdicts = {s["verdict"] for r in rejects for s in r["raw"]["samples"]}
    assert verdicts <= {"failed"}


@pytest.mark.slow
@pytest.mark.model
def test_with_the_embedded_model(tmp_path: Path) -> None:
    """The 135M model cannot do arithmetic: assert the structure, not that it solves."""
    source = Problems(n=2, families=["arithmetic.integer", "number_theory.gcd"], difficulties=[1])
    stage = RejectionSampling(k=2, max_tokens=64, retries=0)
    root = _run(tmp_path, source, stage, allow_empty=True)  # it may solve neither problem
    rows, rejects = _read(root)
    stats = json.loads((root / "stats.json").read_text())["stages"]["rejection_sampling"]
    counters = stats["counters"]
    assert counters["samples"] == 4 and counters["llm.calls"] >= 4
    hist = {k: v for k, v in counters.items() if k.startswith("pass_hist/")}
    assert sum(hist.values()) == 2
    per_problem: dict[str, int] = {}
    for row in rows:
        per_problem[row["_meta"]["parents"][0]] = row["n_correct"]
        assert row["_meta"]["model"] and row["_meta"]["seed"] is not None
    for rej in rejects:
        assert len(rej["raw"]["samples"]) == 2 and rej["reason"] == "no correct sample"
        per_problem[rej["_meta"]["id"]] = 0
    assert len(per_problem) == 2
    report = passk_report(root)
    want = sum(pass_at_k(2, c, 1) for c in per_problem.values()) / 2
    assert report["all"]["pass@1"] == pytest.approx(want, abs=1e-4)
    assert 0.0 <= report["all"]["pass@1"] <= report["all"]["pass@2"] <= 1.0


def test_failed_calls_are_transient_rejects_not_wrong_answers() -> None:
    """A problem whose samples were lost to failed calls is retried next run, not final."""
    problems = _problems(3, ["arithmetic"])
    stage = RejectionSampling(backend=FakeBackend(fail_every=1, transient=True), k=2)
    out = stage.process(problems, StageContext(seed=5, stage=stage.label))
    assert len(out) == 3 and all(r.rejected for r in out)
    assert all(r.meta.rejection is not None and r.meta.rejection.transient for r in out)
    # a content failure (a wrong answer) stays final
    backend = Scripted(answers={r.data["problem"]: "-1e99" for r in problems})
    final = stage.model_copy(update={"backend": backend}).process(
        problems, StageContext(seed=5, stage=stage.label)
    )
    assert all(r.meta.rejection is not None and not r.meta.rejection.transient for r in final)
