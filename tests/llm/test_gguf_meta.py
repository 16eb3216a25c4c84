"""metadata_string walks a GGUF header (every value type, arrays of strings and numbers)
to one string key, without loading tensors; the shipped model's chat template is ChatML."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from synthmill.llm.gguf_meta import metadata_string


def _s(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def gguf(path: Path, pairs: list[tuple[str, int, bytes]]) -> Path:
    head = b"GGUF" + struct.pack("<IQQ", 3, 0, len(pairs))
    body = b"".join(_s(k) + struct.pack("<I", kind) + value for k, kind, value in pairs)
    path.write_bytes(head + body)
    return path


def test_walks_every_kind_of_value_to_the_key(tmp_path: Path) -> None:
    tokens = struct.pack("<IQ", 8, 3) + _s("<s>") + _s("a") + _s("<|im_end|>")
    pairs = [
        ("general.architecture", 8, _s("llama")),
        ("llama.block_count", 4, struct.pack("<I", 30)),
        ("llama.rope.freq_base", 6, struct.pack("<f", 1e4)),
        ("tokenizer.ggml.tokens", 9, tokens),
        ("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, 3) + struct.pack("<3f", 0, 1, 2)),
        ("tokenizer.ggml.add_bos_token", 7, b"\x01"),
        ("general.size", 10, struct.pack("<Q", 7)),
        ("tokenizer.chat_template", 8, _s("{{ messages }}")),
    ]
    path = gguf(tmp_path / "m.gguf", pairs)
    assert metadata_string(path, "tokenizer.chat_template") == "{{ messages }}"
    assert metadata_string(path, "general.architecture") == "llama"
    assert metadata_string(path, "missing") is None
    with pytest.raises(ValueError, match="not a GGUF file"):
        metadata_string(_junk(tmp_path), "k")


def _junk(tmp_path: Path) -> Path:
    path = tmp_path / "junk.bin"
    path.write_bytes(b"NOPE" + b"\x00" * 20)
    return path


@pytest.mark.model
def test_the_embedded_models_template_is_chatml() -> None:
    from synthmill.llm.llamacpp import default_model_path

    template = metadata_string(default_model_path(), "tokenizer.chat_template")
    assert template is not None and "<|im_start|>" in template and "<|im_end|>" in template
