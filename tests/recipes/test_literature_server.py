"""The literature recipes' examples through the openai backend against a real
`python -m llama_cpp.server` (one row each): every row kept with provenance or rejected
with a reason, and the kept rows have the recipe's columns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from synthmill import Pipeline
from tests.conftest import REPO
from tests.helpers import MAY_BE_EMPTY
from tests.llm.servers import MODEL_ALIAS, llama_server  # noqa: F401 (fixture)
from tests.recipes.test_embedded import kept, rejects

pytestmark = [pytest.mark.server, pytest.mark.slow]

# example -> (the one input row, option overrides of the recipe stage, columns it must write)
CASES: dict[str, tuple[dict[str, Any] | None, list[str], set[str]]] = {
    "constitutional": (
        {"instruction": "How do I boil an egg?", "response": "Heat it."},
        ["max_tokens=60"],
        {"critique", "revision", "chosen", "rejected", "original", "principle"},
    ),
    "rephrase": (
        {"text": "Bees make honey from nectar. They store it in wax combs for winter."},
        ["styles=[easy]", "max_tokens=80"],
        {"style", "rephrased"},
    ),
    "backtranslate": (
        {"text": "Water boils at 100 degrees Celsius at sea level."},
        ["min_score=1"],
        {"instruction", "response", "score", "score_reason"},
    ),
    "preference": (
        {"instruction": "Name a colour of the sky."},
        ["temperatures=[0.2, 1.3]", "max_tokens=40"],
        {"responses", "ratings", "chosen", "rejected", "chosen_score", "rejected_score"},
    ),
    "multiturn": (
        {"instruction": "What do cats eat?"},
        ["turns=2", "max_tokens=50"],
        {"messages", "turns", "stop_reason"},
    ),
    "oss_instruct": (  # then verify.code in the sandbox
        {"code": "def double(x):\n    return 2 * x\n"},
        ["n=1", "max_tokens=300", "stages.0.format=jsonl"],
        {"problem", "entry_point", "solution", "tests"},
    ),
    "textbook": (None, ["stages.0.n=1", "max_tokens=120"], {"topic", "audience", "format", "text"}),
    "magpie": (  # raw /v1/completions for the instruction; the server's template is not
        None,  # readable, so the example names it
        ["stages.0.n=1", "stages.0.template=chatml", "stages.0.max_tokens=60"],
        {"instruction", "response", "messages"},
    ),
}


@pytest.mark.parametrize(
    "recipe",
    [pytest.param(r, marks=[pytest.mark.sandbox] if r == "oss_instruct" else []) for r in CASES],
)
def test_example_runs_through_the_openai_backend(
    recipe: str,
    llama_server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    row, options, columns = CASES[recipe]
    backend = f"backend={{type: openai, base_url: '{llama_server}', model: {MODEL_ALIAS}}}"
    overrides = [MAY_BE_EMPTY, backend, f"output.dir={tmp_path / 'run'}"]
    if row is not None:  # else the example's own source (sample)
        src = tmp_path / "in.jsonl"
        src.write_text(json.dumps(row) + "\n")
        overrides.append(f"stages.0.path={src}")
    overrides += [o if o.startswith("stages.") else f"stages.1.{o}" for o in options]
    root = Pipeline.from_yaml(REPO / f"examples/{recipe}.yaml", overrides).run().root
    made, dropped = kept(root), rejects(root)
    assert len(made) + len(dropped) == 1
    for r in made:
        assert columns <= r.data.keys() and r.meta.recipe == recipe
        assert r.meta.model == MODEL_ALIAS and r.meta.prompt_hash
        assert r.meta.parents or recipe == "magpie"  # magpie's rows come from nothing
    assert all(d["reason"] and d["stage"] for d in dropped)
