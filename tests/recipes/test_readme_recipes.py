"""Each recipe YAML in the README's "Recipes from the literature" part parses, builds and
runs (tiny n, the fake backend answering whatever each call asks for): every row ends up
kept with provenance or rejected with a reason."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from synthmill import Pipeline
from synthmill.llm.base import Request
from synthmill.recipes import LITERATURE_RECIPES
from synthmill.records import stable_hash
from tests.conftest import REPO
from tests.recipes.test_embedded import kept, rejects

HERE = "tests.recipes.test_readme_recipes"
# oss_instruct runs verify.code in the sandbox; textbook's block clusters with MiniLM (torch)
MARKS = {"oss_instruct": [pytest.mark.sandbox], "textbook": [pytest.mark.slow]}
START, END = "<!-- recipes-literature -->", "<!-- /recipes-literature -->"
RECIPES = LITERATURE_RECIPES


def readme_blocks() -> dict[str, str]:
    """recipe -> its README YAML block (the recipe is one of the block's stages)."""
    text = (REPO / "README.md").read_text()
    part = text.split(START, 1)[1].split(END, 1)[0]
    out = {}
    for block in re.findall(r"```yaml\n(.*?)```", part, re.DOTALL):
        config = yaml.safe_load(block)
        recipe = next(s["use"] for s in config["stages"] if s["use"] in RECIPES)
        out[recipe] = block
    return out


def readme_yamls() -> dict[str, dict[str, Any]]:
    return {recipe: yaml.safe_load(block) for recipe, block in readme_blocks().items()}


def answer(request: Request) -> str:
    """A reply for any call: raw text for a raw completion, else JSON filling the schema
    (integers in their range, strings derived from the prompt)."""
    tag = stable_hash(request.messages, request.prompt, length=6)
    if request.prompt is not None:
        return f"How do rivers shape valleys over time, case {tag}?"
    if request.json_schema is None:
        return f"An answer about rivers and valleys, case {tag}."
    prompt = request.messages[-1]["content"]
    props = request.json_schema["properties"]
    return json.dumps({k: _value(k, v, prompt, tag) for k, v in props.items()})


def _value(key: str, spec: dict[str, Any], prompt: str, tag: str) -> Any:
    if spec.get("type") == "integer":
        return spec.get("maximum", 5)
    words = " ".join(prompt.split()[:40])
    return f"{key} {tag}: {words}"[: spec.get("maxLength", 400)]


def test_the_readme_has_a_yaml_for_each_of_the_eight_recipes() -> None:
    found = readme_blocks()
    assert set(found) == set(RECIPES)
    for block in found.values():
        assert len(block.splitlines()) <= 11  # about ten lines each


@pytest.mark.parametrize(
    "recipe",
    [pytest.param(r, marks=MARKS.get(r, [])) for r in RECIPES],
)
def test_readme_recipe_builds_and_runs_with_tiny_n(
    recipe: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)  # the examples' data paths are relative to the repository
    config = readme_yamls()[recipe]
    config["backend"] = {"type": "fake", "function": f"{HERE}:answer", "model": "fake-m"}
    config["output"] = {"dir": str(tmp_path / "run")}
    config["allow_empty"] = True  # a tiny n may lose every row to the recipe's own checks
    for stage in config["stages"]:
        stage.pop("backend", None)
        if "n" in stage:
            stage["n"] = 2 if stage["use"] in ("sample", "magpie") else 1
        if stage["use"] == "read":
            stage["limit"] = 2
    if recipe == "magpie":
        config["stages"][0]["template"] = "chatml"  # the fake model has no chat template
    root = Pipeline.from_config(config).run().root
    made, dropped = kept(root), rejects(root)
    assert made or dropped
    assert all(r.meta.prompt_hash and r.meta.model == "fake-m" for r in made)
    assert all(d["reason"] and d["stage"] for d in dropped)
