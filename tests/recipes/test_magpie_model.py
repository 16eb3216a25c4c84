"""`magpie` with the embedded model (SmolLM2-135M): the user-turn opening read from the
GGUF file's chat template, raw completions through llama-cpp-python, the response cached
and counted like every other call, rows kept with provenance or rejected with a reason;
and raw completions through the openai backend against a real `python -m llama_cpp.server`
(POST /v1/completions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthmill import Pipeline
from synthmill.llm.base import Request
from synthmill.llm.llamacpp import LlamaCppBackend
from synthmill.llm.openai import OpenAIBackend
from synthmill.recipes.magpie import Magpie
from tests.conftest import REPO
from tests.helpers import MAY_BE_EMPTY
from tests.llm.servers import MODEL_ALIAS, llama_server  # noqa: F401 (fixture)
from tests.recipes.test_embedded import MODEL, kept, rejects

pytestmark = [pytest.mark.slow, pytest.mark.model]


def test_opening_comes_from_the_models_chat_template() -> None:
    magpie = Magpie(n=1, backend=LlamaCppBackend(n_threads=1))
    prefix, stop = magpie.opening()
    assert prefix.startswith("<|im_start|>system\n") and prefix.endswith("<|im_start|>user\n")
    assert stop == ["<|im_end|>"]


def test_example_runs_then_reruns_from_the_cache(tmp_path: Path) -> None:
    overrides = [
        MAY_BE_EMPTY,
        f"output.dir={tmp_path / 'a'}",
        "stages.0.n=3",
        "stages.0.max_tokens=60",
    ]
    first = Pipeline.from_yaml(REPO / "examples/magpie.yaml", overrides).run()
    made, dropped = kept(first.root), rejects(first.root)
    assert len(made) + len(dropped) == 3
    for r in made:
        assert r.data["instruction"] and "<|im" not in r.data["instruction"]
        assert [m["role"] for m in r.data["messages"]] == ["user", "assistant"]
        assert (r.meta.recipe, r.meta.model) == ("magpie", MODEL)
        assert r.meta.params["instruction"]["raw"] is True and r.meta.prompt_hash
    assert all(d["reason"] and d["stage"] in ("magpie", "dedup.exact") for d in dropped)
    counters = first.stats["stages"]["magpie"]["counters"]
    calls = counters["llm.calls"]
    assert 3 <= calls <= 6 and counters["llm.completion_tokens"] > 0

    overrides[1] = f"output.dir={tmp_path / 'b'}"
    again = Pipeline.from_yaml(REPO / "examples/magpie.yaml", overrides).run()
    counters = again.stats["stages"]["magpie"]["counters"]
    assert counters["llm.cache_hits"] == calls and counters.get("llm.calls", 0) == 0
    assert [r.data for r in kept(again.root)] == [r.data for r in made]


@pytest.mark.server
def test_raw_completions_through_a_llama_cpp_server(
    llama_server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    backend = OpenAIBackend(model=MODEL_ALIAS, base_url=llama_server)
    ask = Request(messages=(), prompt="<|im_start|>user\n", stop=("<|im_end|>",), seed=7)
    [done] = backend.complete([ask])
    assert done.error is None and done.text.strip() and "<|im_end|>" not in done.text
    assert done.prompt_tokens <= 4  # the template's markers arrive as special tokens
    stages = [{"use": "magpie", "n": 3, "template": "chatml", "responses": False}]
    config = {"seed": 4, "stages": stages, "output": {"dir": str(tmp_path / "run")}}
    config["backend"] = {"type": "openai", "base_url": llama_server, "model": MODEL_ALIAS}
    root = Pipeline.from_config(config).run().root
    made, dropped = kept(root), rejects(root)
    assert made and len(made) + len(dropped) == 3
    assert all(r.data["instruction"] and r.meta.model == MODEL_ALIAS for r in made)
    assert all(d["reason"] != "llm call failed" for d in dropped)
