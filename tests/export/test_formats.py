"""Every export format from real run directories, loaded back with Hugging Face `datasets`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from datasets import load_dataset

from synthmill.errors import ConfigError, DataError
from synthmill.export import Columns, Options, export
from tests.export.runs import GOLD, lines, problems_run, read_run, rejection_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A problems run and a rejection_sampling run, made once for the module."""
    tmp = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYNTHMILL_CACHE_DIR", str(tmp / "cache"))
        yield {"problems": problems_run(tmp, n=16), "rs": rejection_run(tmp)}


def published(root: Path) -> list[dict[str, Any]]:
    """The run's own rows, read straight from its Parquet files."""
    return [
        r for p in sorted((root / "data").glob("*.parquet")) for r in pq.read_table(p).to_pylist()
    ]


def load(path: Path, tmp_path: Path) -> Any:
    builder = "parquet" if path.suffix == ".parquet" else "json"
    return load_dataset(
        builder, data_files=str(path), split="train", cache_dir=str(tmp_path / "hf")
    )


def test_a_problems_run_exports_as_sft_in_three_formats(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    rows = published(runs["problems"])
    for fmt in ("openai", "sharegpt", "alpaca"):
        result = export(runs["problems"], tmp_path / f"{fmt}.jsonl", fmt)
        assert result.rows == len(rows) and not result.skipped
    chats = load(tmp_path / "openai.jsonl", tmp_path)
    assert [m["content"] for m in chats[0]["messages"]] == [rows[0]["problem"], rows[0]["answer"]]
    assert {tuple(m["role"] for m in c) for c in chats["messages"]} == {("user", "assistant")}
    share = load(tmp_path / "sharegpt.jsonl", tmp_path)
    assert [t["from"] for t in share[0]["conversations"]] == ["human", "gpt"]
    alpaca = load(tmp_path / "alpaca.jsonl", tmp_path)
    assert alpaca["instruction"] == [r["problem"] for r in rows]
    assert alpaca["output"] == [r["answer"] for r in rows]


def test_rl_rows_carry_gold_answers_and_code_tests(runs: dict[str, Path], tmp_path: Path) -> None:
    rows = published(runs["problems"])
    result = export(runs["problems"], tmp_path / "rl.jsonl", "rl")
    distinct = {r["problem"] for r in rows}
    assert result.rows == len(distinct) and result.merged == len(rows) - len(distinct)
    data = load(tmp_path / "rl.jsonl", tmp_path)
    gold = {r["problem"]: r for r in rows}
    kinds = set()
    for item in data:
        (turn,) = item["prompt"]
        source = gold[turn["content"]]
        assert turn["role"] == "user" and item["answer"] == source["answer"]
        assert (item["family"], item["difficulty"]) == (source["family"], source["difficulty"])
        assert (item["tests"], item["entry_point"]) == (source["tests"], source["entry_point"])
        kinds.add(item["kind"])
        if item["kind"] == "code":
            assert "def check(candidate)" in item["tests"] and item["entry_point"]
    assert kinds == {"math", "code"}


def test_verl_rows_have_the_fields_its_dataset_reads(runs: dict[str, Path], tmp_path: Path) -> None:
    result = export(runs["problems"], None, "verl", options=Options(data_source="mine"))
    assert result.path == runs["problems"] / "export" / "verl.parquet"
    data = load(result.path, tmp_path)
    gold = {r["problem"]: r for r in published(runs["problems"])}
    assert data.num_rows == result.rows
    for row in data:  # what verl's RLHFDataset and reward manager index
        source = gold[row["prompt"][-1]["content"]]
        assert row["data_source"] == f"mine/{source['family']}"
        assert row["ability"] == source["kind"]
        assert row["reward_model"] == {"style": "rule", "ground_truth": source["answer"]}
        info = row["extra_info"]
        assert info["tests"] == source["tests"] and info["difficulty"] == source["difficulty"]
    assert len(set(data["extra_info"][i]["index"] for i in range(data.num_rows))) == data.num_rows


def test_a_rejection_sampling_run_exports(runs: dict[str, Path], tmp_path: Path) -> None:
    rows = published(runs["rs"])
    assert len(rows) == 3 * len(GOLD)
    export(runs["rs"], tmp_path / "sft.jsonl", "openai")
    chats = lines(tmp_path / "sft.jsonl")
    assert [c["messages"][1]["content"] for c in chats] == [r["solution"] for r in rows]
    result = export(runs["rs"], tmp_path / "rl.jsonl", "rl")
    assert (result.rows, result.merged) == (len(GOLD), 2 * len(GOLD))
    data = load(tmp_path / "rl.jsonl", tmp_path)
    assert {r["prompt"][0]["content"]: r["answer"] for r in data} == GOLD


def test_any_columns_map_to_any_chat_format(tmp_path: Path) -> None:
    rows = [
        {"q": f"Question {i}?", "a": f"Answer {i}.", "sys": "Be terse.", "doc": f"Doc {i}"}
        for i in range(3)
    ]
    root = read_run(tmp_path, rows)
    cols = Columns(prompt="q", response="a", system="sys", input="doc")
    export(root, tmp_path / "o.jsonl", "openai", cols)
    first = load(tmp_path / "o.jsonl", tmp_path)[0]["messages"]
    assert first == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Question 0?\n\nDoc 0"},
        {"role": "assistant", "content": "Answer 0."},
    ]
    export(root, tmp_path / "a.jsonl", "alpaca", cols)
    expected = {"instruction": "Question 2?", "input": "Doc 2", "output": "Answer 2."}
    assert lines(tmp_path / "a.jsonl")[2] == {**expected, "system": "Be terse."}
    export(root, tmp_path / "a.parquet", "alpaca", Columns(prompt="a", response="q"))
    assert load(tmp_path / "a.parquet", tmp_path)["output"] == [r["q"] for r in rows]


def test_a_misspelt_or_misplaced_column_fails_before_writing(tmp_path: Path) -> None:
    root = read_run(tmp_path, [{"question": "Q?", "answer": "A."}])
    out = tmp_path / "out" / "x.jsonl"
    cases = [
        ("openai", Columns(prompt="questoin", response="answer"), "--prompt 'questoin': no such"),
        ("openai", Columns(prompt="question"), "--prompt and --response go together"),
        ("openai", Columns(chosen="answer"), "--chosen does not apply to --format openai"),
        ("rl", Columns(answer="anwser"), "--answer 'anwser'"),
        ("dpo", Columns(), "cannot tell which column holds the chosen"),
        ("messages", Columns(), "cannot tell which column holds the conversation"),
        ("csv", Columns(), "unknown format"),
    ]
    for fmt, cols, message in cases:
        with pytest.raises(ConfigError, match=message) as err:
            export(root, out, fmt, cols)
        assert "\n" not in str(err.value)
        if "no such" in message or "holds the" in message:
            assert "question, answer" in str(err.value)
    assert not out.parent.exists()


def test_multi_turn_messages_export_as_is_and_bad_ones_are_named(tmp_path: Path) -> None:
    good = [
        {"role": "system", "content": "Tutor."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4."},
        {"role": "user", "content": "And 3+3?"},
        {"role": "assistant", "content": "6."},
    ]
    bad = [{"role": "user", "content": "Hi"}, {"role": "user", "content": "Hello?"}]
    root = read_run(tmp_path, [{"messages": good}, {"messages": bad}, {"messages": good[1:3]}])
    out = tmp_path / "m.jsonl"
    with pytest.raises(
        DataError, match=r"row 1 \(id \w+\): two user turns in a row; .*--skip-invalid"
    ):
        export(root, out, "messages")
    assert not out.exists() and not list(tmp_path.glob(".m.jsonl.*"))
    result = export(root, out, "messages", skip_invalid=True)
    assert (result.rows, dict(result.skipped)) == (2, {"two user turns in a row": 1})
    assert result.first_skip.startswith("row 1 (id ")
    assert load(out, tmp_path)["messages"] == [good, good[1:3]]
    with pytest.raises(DataError, match="Alpaca holds one turn"):
        export(root, tmp_path / "a.jsonl", "alpaca", skip_invalid=False)
    sharegpt = export(root, tmp_path / "s.jsonl", "sharegpt", skip_invalid=True)
    assert sharegpt.rows == 2 and len(lines(tmp_path / "s.jsonl")[0]["conversations"]) == 5


def test_dpo_pairs_in_trl_conversational_form(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {"question": "Capital of France?", "good": "Paris.", "bad": "Lyon.", "system": "Short."},
        {"question": "2+2?", "good": "4", "bad": "4", "system": None},
        {"question": "Sky colour?", "good": "Blue.", "bad": "Green.", "system": None},
    ]
    root = read_run(tmp_path, rows)
    cols = Columns(chosen="good", rejected="bad")
    with pytest.raises(DataError, match="chosen and rejected are the same text"):
        export(root, tmp_path / "d.jsonl", "dpo", cols)
    result = export(root, tmp_path / "d.jsonl", "dpo", cols, skip_invalid=True)
    assert result.rows == 2 and result.skipped["chosen and rejected are the same text"] == 1
    data = load(tmp_path / "d.jsonl", tmp_path)
    assert data[0]["prompt"] == [
        {"role": "system", "content": "Short."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert data[1]["prompt"] == [{"role": "user", "content": "Sky colour?"}]
    assert data["chosen"] == [[{"role": "assistant", "content": a}] for a in ("Paris.", "Blue.")]
    assert data["rejected"][1] == [{"role": "assistant", "content": "Green."}]


def test_a_jsonl_run_and_provenance_ids(tmp_path: Path) -> None:
    rows = [{"instruction": f"Say {i}.", "input": "", "output": str(i)} for i in range(4)]
    root = read_run(tmp_path, rows, output_format="jsonl")
    ids = [r["_meta"]["id"] for r in lines(next((root / "data").glob("*.jsonl")))]
    result = export(root, None, "openai", provenance=True)
    assert result.path == root / "export" / "openai.jsonl"
    assert [r["id"] for r in lines(result.path)] == ids
    parquet = export(root, tmp_path / "o.parquet", "openai", provenance=True)
    assert load(parquet.path, tmp_path)["id"] == ids


def test_nothing_to_export_is_an_error(tmp_path: Path) -> None:
    root = read_run(tmp_path, [{"question": "Q?", "answer": None}])
    with pytest.raises(DataError, match="no row could be exported: 1 skipped"):
        export(root, tmp_path / "x.jsonl", "openai", skip_invalid=True)
    assert not (tmp_path / "x.jsonl").exists()


def test_prompts_that_are_conversations_already(tmp_path: Path) -> None:
    turns = [
        {"role": "system", "content": "Tutor."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4."},
        {"role": "user", "content": "Times 10?"},
    ]
    rows = [
        {"history": turns, "gold": "40", "good": "40.", "bad": "400."},
        {"history": turns[:3], "gold": "4", "good": "Four.", "bad": "Five."},  # ends with assistant
    ]
    root = read_run(tmp_path, rows)
    rl = export(
        root,
        tmp_path / "rl.jsonl",
        "rl",
        Columns(prompt="history", answer="gold"),
        skip_invalid=True,
    )
    assert (rl.rows, dict(rl.skipped)) == (1, {"the conversation ends with assistant, not user": 1})
    assert load(rl.path, tmp_path)[0]["prompt"] == turns
    cols = Columns(prompt="history", chosen="good", rejected="bad")
    dpo = export(root, tmp_path / "d.jsonl", "dpo", cols, skip_invalid=True)
    assert dpo.rows == 1 and lines(dpo.path)[0]["prompt"] == turns
