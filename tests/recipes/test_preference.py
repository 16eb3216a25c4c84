"""`preference` (UltraFeedback, Cui et al. 2023): k responses, judge ratings per aspect,
chosen/rejected, ties and all-equal sets rejected; exports as DPO and loads with datasets."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from synthmill import Pipeline
from synthmill.export import export
from synthmill.llm.base import Request
from synthmill.pipeline.stage import StageContext
from synthmill.recipes.preference import REASON_EQUAL, REASON_FEW, REASON_TIE, Preference
from synthmill.records import Record
from tests.conftest import REPO
from tests.helpers import MAY_BE_EMPTY
from tests.recipes.test_embedded import kept, rejects

HERE = "tests.recipes.test_preference"
SENT: list[Request] = []
# the judge's mean rating of the response sampled at each temperature
GRADES = {0.2: 2, 0.7: 4, 1.0: 3, 1.3: 1}


def judge(request: Request, grades: dict[float, int] | None = None) -> str:
    """Responses name their temperature; the judge rates every aspect by it."""
    SENT.append(request)
    props = (request.json_schema or {}).get("properties", {})
    if "response" in props:
        return json.dumps({"response": f"reply t={request.temperature}"})
    t = float(re.findall(r"reply t=([\d.]+)", request.messages[-1]["content"])[-1])
    return json.dumps(dict.fromkeys(props, (grades or GRADES)[t]))


def flat(request: Request) -> str:
    return judge(request, dict.fromkeys(GRADES, 3))


def tied(request: Request) -> str:
    return judge(request, {0.2: 4, 0.7: 4, 1.0: 3, 1.3: 1})


def same_text(request: Request) -> str:
    SENT.append(request)
    if "response" in (request.json_schema or {}).get("properties", {}):
        return json.dumps({"response": "always the same"})
    return json.dumps(dict.fromkeys(request.json_schema["properties"], 5))  # type: ignore[index]


def judge_breaks(request: Request) -> str:
    """The judge writes no JSON for the t=0.7 and t=1.0 responses."""
    text = request.messages[-1]["content"]
    if "Reply: reply t=0.7" in text or "Reply: reply t=1.0" in text:
        return "five stars"
    return judge(request)


def stage(function: str = "judge", **options: Any) -> Preference:
    backend = {"type": "fake", "function": f"{HERE}:{function}", "model": "fake-m"}
    return Preference.model_validate({"backend": backend, "retries": 0, **options})


def prompts(n: int = 1) -> list[Record]:
    return [Record.new({"instruction": f"Explain {i}."}, key=i, stage="r") for i in range(n)]


def ctx() -> StageContext:
    return StageContext(seed=4, stage="preference")


def test_best_is_chosen_and_a_lower_one_rejected() -> None:
    SENT.clear()
    r = stage().process(prompts(), ctx())[0]
    assert not r.rejected
    assert r.data["responses"] == [f"reply t={t}" for t in GRADES]
    assert r.data["chosen"] == "reply t=0.7" and r.data["chosen_score"] == 4
    assert r.data["rejected"] in {"reply t=0.2", "reply t=1.0", "reply t=1.3"}
    assert r.data["rejected_score"] < r.data["chosen_score"]
    assert r.data["ratings"][1] == dict.fromkeys(
        ["helpfulness", "honesty", "instruction_following", "truthfulness"], 4
    )
    assert [q.temperature for q in SENT[:4]] == list(GRADES)  # each response its temperature
    assert len({q.seed for q in SENT[:4]}) == 4
    assert r.meta.params["calls"] == 8 and r.meta.recipe == "preference" and r.meta.parents


def test_rejected_is_drawn_among_lower_ones_per_row_and_is_stable() -> None:
    s = stage()
    first = [r.data["rejected"] for r in s.process(prompts(12), ctx())]
    again = [s.process([p], ctx())[0].data["rejected"] for p in prompts(12)]
    assert first == again and len(set(first)) > 1 and "reply t=0.7" not in first


def test_all_equal_ties_and_duplicates_are_rejected_with_a_reason() -> None:
    def reason(function: str) -> str | None:
        rejection = stage(function).process(prompts(), ctx())[0].meta.rejection
        return rejection.reason if rejection else None

    assert reason("flat") == REASON_EQUAL
    assert reason("tied") == REASON_TIE
    assert reason("same_text") == REASON_FEW  # one distinct response is no pair


def test_unrated_responses_drop_out_but_the_rest_still_pair() -> None:
    r = stage("judge_breaks").process(prompts(), ctx())[0]
    assert r.data["ratings"][1] is None and r.data["ratings"][2] is None
    assert (r.data["chosen"], r.data["rejected"]) == ("reply t=0.2", "reply t=1.3")


def test_aspects_system_prompts_and_prompt_overrides() -> None:
    SENT.clear()
    s = stage(
        aspects={"clarity": "Is it clear?", "safety": "Is it safe?"},
        temperatures=[0.2, 0.7],
        system_prompts=["Be terse."],
    )
    r = s.process(prompts(), ctx())[0]
    assert SENT[0].messages[0] == {"role": "system", "content": "Be terse."}
    judge_turn = SENT[2].messages[-1]["content"]
    assert "clarity: Is it clear?" in judge_turn and "Request: Explain 0." in judge_turn
    assert set(SENT[2].json_schema["properties"]) == {"clarity", "safety"}  # type: ignore[index]
    custom = stage(
        prompts={"judge": "Grade {{ response }} for {{ prompt }}"}, temperatures=[0.2, 0.7]
    )
    assert custom.process(prompts(), ctx())[0].meta.prompt_hash != r.meta.prompt_hash
    for bad in (
        {"aspects": {"Help fulness": "x"}},
        {"temperatures": [0.5]},
        {"temperatures": [0.1, 3.0]},
        {"prompts": {"judges": "x"}},
    ):
        with pytest.raises(ValueError):
            stage(**bad)


def test_run_exports_as_dpo_and_loads_with_datasets(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(p.data) + "\n" for p in prompts(3)))
    config = {
        "backend": {"type": "fake", "function": f"{HERE}:judge"},
        "stages": [{"use": "read", "path": str(src)}, {"use": "preference"}],
        "output": {"dir": str(tmp_path / "run")},
    }
    root = Pipeline.from_config(config).run().root
    out = tmp_path / "dpo.jsonl"
    assert export(root, out, "dpo").rows == 3
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("json", data_files=str(out), split="train")
    assert ds.num_rows == 3 and ds[0]["chosen"] == [{"role": "assistant", "content": "reply t=0.7"}]
    assert ds[0]["prompt"][-1]["content"] == "Explain 0."


@pytest.mark.slow
@pytest.mark.model
def test_embedded_model_run_from_the_example(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"instruction": "Name a colour of the sky."}))
    overrides = [
        MAY_BE_EMPTY,
        f"stages.0.path={src}",
        f"output.dir={tmp_path / 'run'}",
        "stages.1.temperatures=[0.2, 1.3]",
        "stages.1.max_tokens=40",
    ]
    root = Pipeline.from_yaml(REPO / "examples/preference.yaml", overrides).run().root
    made, dropped = kept(root), rejects(root)
    assert len(made) + len(dropped) == 1
    for r in made:
        assert r.data["chosen"] != r.data["rejected"]
        assert r.data["chosen_score"] > r.data["rejected_score"]
        assert r.meta.recipe == "preference" and str(r.meta.model).startswith("SmolLM2")
        assert r.meta.params["calls"] == 4 and r.meta.prompt_hash and r.meta.parents
    assert all(d["reason"] for d in dropped)
