"""The Q8_0 copy of the shipped Q4_1 model that llama-server batches (llm/weights.py)."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest
from gguf.quants import dequantize

from synthmill.errors import BackendError
from synthmill.llm import Request
from synthmill.llm import weights as weights_module
from synthmill.llm.cache import cache_keys
from synthmill.llm.calls import provenance
from synthmill.llm.llamacpp import LlamaCppBackend, default_model_path
from synthmill.llm.weights import needs_q8_0, q8_0_copy

pytestmark = [pytest.mark.model]


@pytest.fixture()
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("SYNTHMILL_MODELS_DIR", str(folder))
    return folder


def test_the_copy_is_the_same_model_to_within_q8_0_rounding(models: Path) -> None:
    source = default_model_path()
    assert needs_q8_0(source)
    copy = q8_0_copy(source)
    assert copy.parent == models and not needs_q8_0(str(copy))
    old, new = gguf.GGUFReader(source), gguf.GGUFReader(str(copy))
    for name in ("tokenizer.chat_template", "tokenizer.ggml.tokens", "llama.block_count"):
        assert old.fields[name].contents() == new.fields[name].contents()
    assert new.fields["general.file_type"].contents() == 7  # MOSTLY_Q8_0
    converted = 0
    for a, b in zip(old.tensors, new.tensors, strict=True):
        assert (a.name, list(a.shape)) == (b.name, list(b.shape))
        before = dequantize(a.data, a.tensor_type).ravel()
        after = dequantize(b.data, b.tensor_type).ravel()
        if a.tensor_type.name != "Q4_1":
            assert a.tensor_type == b.tensor_type and np.array_equal(before, after)
            continue
        converted += 1
        assert b.tensor_type.name == "Q8_0"
        blocks = before.reshape(-1, 32)  # a Q8_0 block: 32 weights, step = max |w| / 127
        step = np.abs(blocks).max(axis=1, keepdims=True) / 127
        error = np.abs(after.reshape(-1, 32) - blocks)
        # half a step, plus the scale's rounding to f16 (2^-11 of it, over up to 127 steps)
        assert np.all(error <= step * (0.5 + 127 * 2**-11) + 1e-7), a.name
        assert 0 < error.mean() < 0.01 * np.abs(blocks).mean()  # really re-quantized, close
    assert converted == 210


def test_the_copy_is_made_once_and_a_failed_one_leaves_no_file(
    models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = default_model_path()

    def dies_half_way(src: Path, target: Path) -> None:
        target.write_bytes(b"GGUF half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(weights_module, "_convert", dies_half_way)
    with pytest.raises(BackendError, match=r"No space left.*weights: file") as caught:
        q8_0_copy(source)
    assert "\n" not in str(caught.value)
    assert list(models.iterdir()) == []  # no half file under either name
    monkeypatch.undo()
    monkeypatch.setenv("SYNTHMILL_MODELS_DIR", str(models))
    first = q8_0_copy(source)
    made = first.stat().st_mtime_ns
    assert q8_0_copy(source) == first and first.stat().st_mtime_ns == made  # not rewritten


def test_a_models_dir_that_is_a_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "models"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SYNTHMILL_MODELS_DIR", str(blocker))
    with pytest.raises(BackendError, match=r"SYNTHMILL_MODELS_DIR, or set weights: file"):
        q8_0_copy(default_model_path())


def test_a_file_that_is_not_gguf_is_a_backend_error(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"not a model at all" * 10)
    with pytest.raises(BackendError, match=r"not a readable GGUF file"):
        needs_q8_0(str(fake))


def test_weights_say_what_answers_and_the_cache_key_follows_them(models: Path) -> None:
    assert LlamaCppBackend(engine="server").resolved_weights() == "file"  # the default
    for engine in ("server", "python"):
        assert LlamaCppBackend(engine=engine, weights="q8_0").resolved_weights() == "q8_0"
    request = [Request(messages=({"role": "user", "content": "Hi"},), seed=1)]
    for engine in ("server", "python"):
        keys = [cache_keys(LlamaCppBackend(engine=engine, weights=w), request)
                for w in ("file", "q8_0")]  # fmt: skip
        assert keys[0] != keys[1]
    assert LlamaCppBackend(weights="q8_0").cache_identity()["weights"] == "q8_0"
    assert "weights" not in LlamaCppBackend().cache_identity()


@pytest.mark.slow
@pytest.mark.server
def test_the_server_answers_from_the_copy_and_provenance_says_so(models: Path) -> None:
    backend = LlamaCppBackend(n_threads=1, engine="server", parallel=2, weights="q8_0")
    request = Request(messages=({"role": "user", "content": "Name a color."},), seed=4)
    (reply,) = backend.complete([request])
    assert reply.error is None and reply.completion_tokens > 0
    assert backend.server_engine().server.settings.model_path.endswith(".Q8_0.gguf")
    params = provenance(request, reply)["params"]
    assert params["engine"] == "server" and params["weights"] == "q8_0"
    file_backend = LlamaCppBackend(n_threads=1, engine="server", parallel=2)
    (as_file,) = file_backend.complete([request])
    assert "weights" not in provenance(request, as_file)["params"]
    assert file_backend.server_engine().server.settings.model_path == default_model_path()


def test_the_in_process_engine_answers_from_the_copy_too(models: Path) -> None:
    backend = LlamaCppBackend(n_threads=1, engine="python", weights="q8_0")
    request = Request(messages=({"role": "user", "content": "Name a color."},), seed=4)
    (reply,) = backend.complete([request])
    assert reply.error is None and reply.completion_tokens > 0
    assert backend.served_path().endswith(".Q8_0.gguf")
    assert provenance(request, reply)["params"]["weights"] == "q8_0"
