"""The judge-trained classifier with the real embedded model as its judge (issue 19: it was
tested only with the fake backend). The 135M judge cannot rate teaching value (it gave
every row the same score, so nothing could be learned), but it can copy a score the text
states: each row starts with "Score N." and the rubric says to give that number. Those
are the inputs it handles. Checked: it really judged the sample, the classifier trained on
its scores (on 14 rows the held-out agreement is too noisy to assert), and every row is
scored and kept or rejected with why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthmill import Pipeline
from synthmill.io.records_io import read_records

pytestmark = [pytest.mark.slow, pytest.mark.model]

GOOD = [
    "Photosynthesis lets plants turn sunlight, water and carbon dioxide into sugar and oxygen.",
    "The heart pumps blood through the lungs to pick up oxygen and then around the body.",
    "Volcanoes form where magma rises through cracks in the crust and erupts as lava.",
    "A prime number has exactly two divisors, one and itself; seven and eleven are primes.",
    "Rivers carve valleys over thousands of years by carrying sand and gravel downstream.",
    "Honeybees gather nectar from flowers and turn it into honey inside the hive.",
    "The moon reflects sunlight, and its phases depend on how much of its lit side we see.",
]
BAD = [
    "click here click here buy now buy now click here",
    "asdf qwer zxcv asdf qwer zxcv",
    "lol ok lol ok lol ok lol",
    "$$$ FREE $$$ WIN $$$ NOW $$$",
    "the the the the the the the",
    "aaaaaaaaaaaaaaaaaaaaaaaa",
    "??? !!! ??? !!! ???",
]


RUBRIC = (
    "Each text starts with its score, a number from 1 to 5. Give exactly that number as the score."
)


def test_classifier_learns_from_the_embedded_judge(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    pairs = zip(GOOD, BAD, strict=True)
    texts = [t for good, bad in pairs for t in (f"Score 5. {good}", f"Score 1. {bad}")]
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    config = {
        "name": "clf",
        "seed": 1,
        "backend": {"type": "llamacpp", "n_threads": 1},
        "stages": [
            {"use": "read", "path": str(src)},
            {
                "use": "filter.classifier",
                "sample": 14,
                "holdout": 0.3,
                "threshold": 3,
                "rubric": RUBRIC,
            },
        ],
        "output": {"dir": str(tmp_path / "out")},
        "allow_empty": True,  # every row kept or rejected with why is what is checked
    }
    result = Pipeline.from_config(config).run()
    stage = result.stats["stages"]["filter.classifier"]
    counters = stage["counters"]
    assert counters["judge.sampled"] == 14 and counters["llm.calls"] >= 14
    assert 5 <= counters["judge.scored"] <= 14
    assert counters["heldout.rows"] >= 1
    for key in ("heldout.exact_pct", "heldout.within_one_pct", "heldout.f1_pct"):
        assert 0 <= counters.get(key, 0) <= 100
    kept = [r for f in sorted((result.root / "data").glob("*.parquet")) for r in read_records(f)]
    rejects = [
        json.loads(line)
        for f in (result.root / "rejects").rglob("*.jsonl")
        for line in f.read_text().splitlines()
    ] if (result.root / "rejects").exists() else []  # fmt: skip
    assert len(kept) + len(rejects) == 14
    for r in kept:
        assert 1 <= r.meta.scores["filter.classifier"] <= 5
        assert round(r.meta.scores["filter.classifier"]) >= 3
    for d in rejects:
        assert d["reason"] == "low predicted quality" and d["raw"]["predicted"] < 3.5
    judged = [r for r in kept if "judge" in r.meta.scores]
    judged += [d for d in rejects if d["raw"]["judge"] is not None]
    assert len(judged) == counters["judge.scored"]
