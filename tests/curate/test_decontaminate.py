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
from tests.curate.clean_code import CLEAN_CODE


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
    assert not Decontaminate(n=8, min_words=8).check(rec(twelve)).ok


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


# Issue 15 item 11: clean template code written the usual way, which shares idioms
# (Euclid's gcd, an is_prime loop, a balance check) with HumanEval's canonical solutions
# but is not contamination.


def test_clean_template_code_is_not_flagged() -> None:
    """Indexing prompts and tests with a 20-word minimum run flags none of it."""
    stage = Decontaminate()
    flagged = [t for t in CLEAN_CODE if not stage.check(rec(t)).ok]
    assert flagged == []


def test_indexing_canonical_solutions_did_flag_the_idioms(tmp_path: Path) -> None:
    """The old setting (solutions indexed, any 13-gram) flags the same clean code: the
    test above would fail under it."""
    from synthmill.curate.benchmarks import _humaneval_rows

    path = tmp_path / "he.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _humaneval_rows()))
    spec = {"name": "he", "path": str(path), "columns": ["prompt", "canonical_solution"]}
    old = Decontaminate(benchmarks=[spec], min_words=13)
    assert sum(not old.check(rec(t)).ok for t in CLEAN_CODE) >= 5


def test_humaneval_tests_are_indexed_and_copied_tests_caught() -> None:
    from synthmill.curate.benchmarks import _humaneval_rows

    row = next(r for i, r in enumerate(_humaneval_rows()) if i == 10)
    verdict = Decontaminate().check(rec("# my tests\n" + str(row["test"])))
    assert not verdict.ok and verdict.raw["column"] == "test"
    assert verdict.raw["item"] == row["task_id"]


def test_minimum_matched_run_of_words() -> None:
    """A row sharing 15 consecutive prompt words (three 13-grams) passes by default; 25
    shared words are caught; scattered 13-grams that never chain to 20 words pass."""
    _, prompt = humaneval_prompt(3)
    toks = words(prompt)
    assert len(toks) >= 40
    stage = Decontaminate()
    assert stage.check(rec("intro " + " ".join(toks[:15]) + " outro")).ok
    assert not stage.check(rec("intro " + " ".join(toks[:25]) + " outro")).ok
    scattered = " ".join(toks[:14]) + " zzz qqq " + " ".join(toks[20:34])
    assert stage.check(rec(scattered)).ok
    assert not Decontaminate(min_words=13).check(rec(scattered)).ok


def test_an_item_shorter_than_the_minimum_run_matches_whole(tmp_path: Path) -> None:
    """A 10-word item (n = 4) fully inside a row is a leak although 10 < min_words."""
    bench = tmp_path / "b.jsonl"
    bench.write_text(json.dumps({"q": "name the third largest moon of the planet saturn please"}))
    stage = Decontaminate(benchmarks=[{"name": "b", "path": str(bench), "columns": ["q"]}], n=4)
    assert not stage.check(rec("So: name the third largest moon of the planet Saturn, please!")).ok
    assert stage.check(rec("name the third largest moon of the planet jupiter")).ok
