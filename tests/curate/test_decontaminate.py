"""Decontamination against the real HumanEval wheel and a user benchmark file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthmill.curate.benchmarks import Benchmark
from synthmill.curate.decontaminate import Decontaminate
from synthmill.curate.text import words
from synthmill.errors import ConfigError
from synthmill.pipeline.config import validate
from synthmill.records import Record


def rec(text: str) -> Record:
    return Record.new({"text": text}, key=text, stage="read")


def humaneval_prompt(k: int) -> tuple[str, str]:
    item = [i for i in Benchmark(name="humaneval").items() if i.column == "prompt"][k]
    return item.item, item.text


def test_humaneval_prompt_inside_a_row_is_caught_and_reported() -> None:
    task, prompt = humaneval_prompt(3)
    stage = Decontaminate()
    verdict = stage.check(rec("Here is a task for you.\n" + prompt.upper()))
    assert not verdict.ok and verdict.reason == "overlaps humaneval"
    assert verdict.raw["item"] == task and verdict.raw["column"] == "prompt"
    assert verdict.raw["matched_ngrams"] >= 1 and len(verdict.raw["match"].split()) == 13


def test_clean_rows_and_partial_overlap_below_n_pass() -> None:
    _, prompt = humaneval_prompt(3)
    stage = Decontaminate()
    assert stage.check(rec("Write a poem about the sea and the sky.")).ok
    twelve = " ".join(words(prompt)[:12])  # 12 words cannot share a 13-gram
    assert stage.check(rec(twelve)).ok
    assert not Decontaminate(n=8).check(rec(twelve)).ok


def test_user_benchmark_file_with_short_items(tmp_path: Path) -> None:
    bench = tmp_path / "quiz.jsonl"
    rows = [
        {
            "qid": "q1",
            "question": "What is the capital city of Burkina Faso?",
            "answer": "Ouagadougou",
        },
        {"qid": "q2", "question": "Name the largest moon of Saturn", "answer": "Titan"},
    ]
    bench.write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = {
        "name": "quiz",
        "path": str(bench),
        "columns": ["question", "answer"],
        "id_column": "qid",
    }
    stage = Decontaminate(benchmarks=[spec], n=13)
    verdict = stage.check(rec("Q: what is the capital city of Burkina Faso? A: hmm"))
    assert not verdict.ok and verdict.raw["benchmark"] == "quiz" and verdict.raw["item"] == "q1"
    assert not stage.check(rec("titan")).ok  # a one-word item matches only as a whole row
    assert stage.check(rec("Titan is big, and so are other moons.")).ok


def test_bad_benchmarks_fail_with_a_fix() -> None:
    with pytest.raises(ConfigError, match="humaneval"):
        validate(Decontaminate, {"benchmarks": [{"name": "mmlu"}]}, "stages.1")
    with pytest.raises(ConfigError, match="does not exist"):
        validate(Decontaminate, {"benchmarks": [{"name": "x", "path": "nope.jsonl"}]}, "s")


def test_stage_pickles_without_its_index() -> None:
    import pickle

    stage = Decontaminate()
    stage.index()
    clone = pickle.loads(pickle.dumps(stage))
    assert clone._index is None
    assert not clone.check(rec(humaneval_prompt(0)[1])).ok
