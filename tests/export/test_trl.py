"""Exports as TRL's trainers see them: its dataset helpers on the loaded files.

TRL is in the test extra (it needs torch, which setup.sh installs as a CPU build); the
chat template is applied with a tokenizer built here, since no model can be downloaded.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from datasets import load_dataset

from synthmill.export import Columns, export
from tests.export.runs import GOLD, problems_run, read_run, rejection_run

pytestmark = pytest.mark.slow  # importing TRL loads torch and transformers (~15 s cold)

TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture(scope="module")
def trl() -> ModuleType:
    module: ModuleType = pytest.importorskip("trl.data_utils")
    return module


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    """A word-level tokenizer with a plain chat template, made offline."""
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")
    fast.chat_template = TEMPLATE
    return fast


def load(path: Path, tmp_path: Path) -> Any:
    return load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "hf"))


def test_sft_exports(trl: ModuleType, tokenizer: Any, tmp_path: Path) -> None:
    root = problems_run(tmp_path, n=6, families=["arithmetic"])
    export(root, tmp_path / "o.jsonl", "openai")
    for example in load(tmp_path / "o.jsonl", tmp_path):
        assert trl.is_conversational(example)
        user, reply = (m["content"] for m in example["messages"])
        text = trl.apply_chat_template(example, tokenizer)["text"]
        assert text == f"<|user|>{user}\n<|assistant|>{reply}\n"
    export(root, tmp_path / "s.jsonl", "sharegpt")
    example = load(tmp_path / "s.jsonl", tmp_path)[0]
    assert trl.is_conversational_from_value(example)
    chatml = trl.maybe_convert_to_chatml(dict(example))
    assert [m["role"] for m in chatml["messages"]] == ["human", "gpt"]  # ShareGPT's names


def test_multi_turn_messages(trl: ModuleType, tokenizer: Any, tmp_path: Path) -> None:
    turns = ["Hi.", "Hello!", "2+2?", "4."]
    convo = [
        {"role": r, "content": c} for r, c in zip(["user", "assistant"] * 2, turns, strict=True)
    ]
    root = read_run(tmp_path, [{"messages": convo}])
    export(root, tmp_path / "m.jsonl", "messages")
    example = load(tmp_path / "m.jsonl", tmp_path)[0]
    assert trl.is_conversational(example)
    assert trl.apply_chat_template(example, tokenizer)["text"].count("<|assistant|>") == 2


def test_dpo_pairs(trl: ModuleType, tokenizer: Any, tmp_path: Path) -> None:
    rows = [{"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Rome."}]
    root = read_run(tmp_path, rows)
    export(root, tmp_path / "d.jsonl", "dpo", Columns())
    example = load(tmp_path / "d.jsonl", tmp_path)[0]
    assert trl.is_conversational(example)
    assert trl.maybe_extract_prompt(example) == example  # the prompt is explicit already
    templated = trl.apply_chat_template(example, tokenizer)
    assert templated == {
        "prompt": "<|user|>Capital of France?\n<|assistant|>",
        "chosen": "Paris.\n",
        "rejected": "Rome.\n",
    }


def test_rl_prompts_keep_the_reward_columns(
    trl: ModuleType, tokenizer: Any, tmp_path: Path
) -> None:
    root = rejection_run(tmp_path)
    export(root, tmp_path / "rl.jsonl", "rl")
    data = load(tmp_path / "rl.jsonl", tmp_path)
    assert {"answer", "family", "difficulty", "kind", "tests", "entry_point"} <= set(
        data.column_names
    )
    for example in data:
        assert trl.is_conversational(example)
        prompt = trl.apply_chat_template(example, tokenizer)["prompt"]
        question = example["prompt"][0]["content"]
        assert prompt == f"<|user|>{question}\n<|assistant|>"
        assert example["answer"] == GOLD[question]
