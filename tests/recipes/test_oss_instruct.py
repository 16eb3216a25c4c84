"""`oss_instruct` (Magicoder, Wei et al. 2023): problem, solution and tests from a seed
snippet; malformed replies rejected here, failing solutions by verify.code in the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from synthmill import Pipeline
from synthmill.llm.base import Request
from synthmill.pipeline.stage import StageContext
from synthmill.recipes.oss_instruct import REASON_SHAPE, OSSInstruct
from synthmill.records import Record
from tests.conftest import REPO
from tests.helpers import MAY_BE_EMPTY
from tests.recipes.test_embedded import kept, rejects

HERE = "tests.recipes.test_oss_instruct"
SENT: list[Request] = []
TESTS = "def check(candidate):\n    assert candidate(1) == 3\n    assert candidate(-2) == 0\n"


def coder(request: Request) -> str:
    """A right solution for slugify snippets, a wrong one for moving averages, a misnamed
    one for anything else."""
    SENT.append(request)
    text = request.messages[-1]["content"]
    body = "x + 2" if "slugify" in text else "x + 3"
    name = "add_two" if "slugify" in text or "moving_average" in text else "plus_two"
    solution = f"```python\ndef {name}(x):\n    return {body}\n```"
    reply = {"problem": "Add two to x.", "entry_point": "add_two", "solution": solution}
    return json.dumps({**reply, "tests": TESTS})


def no_check(request: Request) -> str:
    reply = json.loads(coder(request))
    return json.dumps({**reply, "tests": "assert add_two(1) == 3"})


def stage(function: str = "coder", **options: Any) -> OSSInstruct:
    backend = {"type": "fake", "function": f"{HERE}:{function}", "model": "fake-m"}
    return OSSInstruct.model_validate({"backend": backend, **options})


def snippets(*codes: str) -> list[Record]:
    return [Record.new({"code": c}, key=i, stage="read") for i, c in enumerate(codes)]


def ctx() -> StageContext:
    return StageContext(seed=8, stage="oss_instruct")


def test_rows_have_the_verify_code_shape_and_provenance() -> None:
    SENT.clear()
    parents = snippets("def slugify(t): ...")
    out = stage(n=2).process(parents, ctx())
    assert len(out) == 2 and not any(r.rejected for r in out)
    for r in out:
        assert r.data["entry_point"] == "add_two" and r.data["tests"] == TESTS.strip()
        assert "def add_two(x)" in r.data["solution"] and r.data["code"] == "def slugify(t): ..."
        assert r.meta.parents == (parents[0].meta.id,) and r.meta.recipe == "oss_instruct"
    assert "def slugify(t): ..." in SENT[0].messages[-1]["content"]
    assert len({r.meta.id for r in out}) == 2 and SENT[0].seed != SENT[1].seed


def test_malformed_replies_are_rejected_before_any_code_runs() -> None:
    misnamed = stage().process(snippets("class Inventory: ..."), ctx())[0]
    assert misnamed.meta.rejection is not None and misnamed.meta.rejection.reason == REASON_SHAPE
    assert "does not define add_two()" in misnamed.meta.rejection.raw["problem"]
    checkless = stage("no_check").process(snippets("slugify"), ctx())[0]
    assert checkless.meta.rejection is not None
    assert "no check(candidate)" in checkless.meta.rejection.raw["problem"]


def test_long_snippets_are_cut_and_prompts_overridable() -> None:
    SENT.clear()
    stage(max_snippet_chars=60, prompts={"problem": "Riff on: {{ snippet }}"}).process(
        snippets("slugify" + "x" * 500), ctx()
    )
    assert SENT[0].messages[-1]["content"] == "Riff on: slugify" + "x" * 53
    with pytest.raises(ValueError, match="no prompt named"):
        stage(prompts={"solution": "x"})


@pytest.mark.sandbox
def test_the_example_keeps_only_rows_whose_solution_passes_in_the_sandbox(
    tmp_path: Path,
) -> None:
    backend = f"backend={{type: fake, function: '{HERE}:coder'}}"
    overrides = [backend, f"output.dir={tmp_path / 'run'}", "stages.1.n=1"]
    root = Pipeline.from_yaml(REPO / "examples/oss_instruct.yaml", overrides).run().root
    made, dropped = kept(root), rejects(root)
    assert [r.data["code"].count("slugify") > 0 for r in made] == [True]
    assert made[0].meta.verdicts["verify.code"]["ok"] is True
    reasons = sorted((d["stage"], d["reason"]) for d in dropped)
    assert reasons[0] == ("oss_instruct", REASON_SHAPE)  # inventory.py: misnamed
    assert reasons[1][0] == "verify.code"  # window.py: a wrong answer, run and failed


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.sandbox
def test_embedded_model_run_from_the_example(tmp_path: Path) -> None:
    src = tmp_path / "snippets"
    src.mkdir()
    (src / "a.py").write_text("def double(x):\n    return 2 * x\n")
    overrides = [
        MAY_BE_EMPTY,
        f"stages.0.path={src}",
        f"output.dir={tmp_path / 'run'}",
        "stages.1.n=1",
    ]
    overrides.append("stages.1.max_tokens=300")
    root = Pipeline.from_yaml(REPO / "examples/oss_instruct.yaml", overrides).run().root
    made, dropped = kept(root), rejects(root)
    assert len(made) + len(dropped) == 1
    for r in made:
        assert r.meta.verdicts["verify.code"]["ok"] is True and r.meta.recipe == "oss_instruct"
        assert str(r.meta.model).startswith("SmolLM2") and r.meta.prompt_hash
    assert all(d["reason"] and d["stage"] in ("oss_instruct", "verify.code") for d in dropped)
