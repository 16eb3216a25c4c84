"""The LLM judge and the judge-trained classifier (fake backend for logic, real model once)."""

from __future__ import annotations

import random

import pytest

from synthmill.curate.classifier import ClassifierFilter, agreement
from synthmill.curate.judge import Judge
from synthmill.errors import DataError
from synthmill.llm.fake import FakeBackend
from synthmill.pipeline.stage import StageContext
from synthmill.records import Record

FAKE = FakeBackend(function="tests.curate.fake_judge:reply")
FILLER = "we went to the shop and bought bread milk and some apples for the week"
FILLER_WORDS = FILLER.split()
MATHS = ["theorem", "proof", "lemma", "derivative", "integral", "equation"]


def rec(text: str, key: object) -> Record:
    return Record.new({"text": text}, key=key, stage="read")


def corpus(n: int, seed: int = 0) -> list[Record]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        words = rng.sample(FILLER_WORDS, 8) + rng.sample(MATHS, rng.choice([0, 0, 1, 2]))
        rng.shuffle(words)
        rows.append(rec(" ".join(words), i))
    return rows


def test_judge_scores_rows_and_rejects_bad_replies() -> None:
    stage = Judge(backend=FAKE, min_score=3)
    rows = [rec("a theorem and its proof", 1), rec("a day at the shop", 2), rec("garbage", 3)]
    out = stage.process(rows, StageContext(0, stage.label))
    assert out[0].meta.scores["score.judge"] == 5 and not out[0].rejected
    assert out[1].meta.rejection.reason == "low judge score"
    assert out[1].meta.rejection.raw["score"] == 1
    assert out[2].meta.rejection.reason == "invalid json"
    assert out[2].meta.rejection.raw["output"] == "not json at all"


def test_classifier_learns_the_judge_and_reports_agreement() -> None:
    rows = corpus(300)
    stage = ClassifierFilter(backend=FAKE, sample=150, threshold=3.0)
    ctx = StageContext(0, stage.label)
    out = list(stage.process_all(rows, ctx))
    assert len(out) == 300
    assert ctx.counters["judge.sampled"] == 150 and ctx.counters["judge.scored"] == 150
    assert ctx.counters["heldout.rows"] > 20
    assert ctx.counters["heldout.f1_pct"] >= 85
    kept = [r for r in out if not r.rejected]
    maths = [any(m in r.data["text"] for m in MATHS) for r in out]
    precision = sum(m for m, r in zip(maths, out, strict=True) if not r.rejected) / len(kept)
    recall = sum(m for m, r in zip(maths, out, strict=True) if not r.rejected) / sum(maths)
    assert precision >= 0.85 and recall >= 0.85
    dropped = [r.meta.rejection.raw for r in out if r.rejected]
    assert all(raw["predicted"] < 2.5 for raw in dropped)
    assert sum("judge" in r.meta.scores for r in out) == 150


def test_classifier_needs_usable_judge_scores() -> None:
    rows = [rec(f"garbage {i}", i) for i in range(30)]
    with pytest.raises(DataError, match="usable scores"):
        list(ClassifierFilter(backend=FAKE, sample=20).process_all(rows, StageContext(0, "c")))


def test_agreement_metrics() -> None:
    import numpy as np

    a = agreement(np.array([1.2, 4.6, 3.1, 2.0]), np.array([1.0, 5.0, 2.0, 2.0]), 3.0)
    assert (a.rows, a.exact, a.within_one) == (4, 0.75, 1.0)
    assert a.f1 == pytest.approx(2 / 3)


@pytest.mark.slow
@pytest.mark.model
def test_judge_with_the_embedded_model() -> None:
    pytest.importorskip("llama_cpp")
    from synthmill.llm.registry import make_backend

    stage = Judge(backend=make_backend({"type": "llamacpp"}), max_tokens=64)
    rows = [
        rec("Photosynthesis turns light, water and carbon dioxide into sugar and oxygen.", 1),
        rec("BUY NOW!!! best deals click here click here", 2),
        rec("The derivative of x squared is two x, by the power rule.", 3),
    ]
    out = stage.process(rows, StageContext(0, stage.label))
    assert len(out) == 3
    for r in out:
        if r.rejected:  # a small model may still fail: then the reason and raw output are kept
            assert r.meta.rejection.reason in {"invalid json", "schema mismatch", "llm call failed"}
            assert "output" in r.meta.rejection.raw
        else:
            assert 1 <= r.meta.scores["score.judge"] <= 5
    assert sum(not r.rejected for r in out) >= 2


@pytest.mark.slow
def test_classifier_on_minilm_embeddings() -> None:
    pytest.importorskip("sentence_transformers")
    rows = corpus(200)
    stage = ClassifierFilter(backend=FAKE, sample=120, features="embed")
    ctx = StageContext(0, stage.label)
    out = list(stage.process_all(rows, ctx))
    assert len(out) == 200 and ctx.counters["heldout.rows"] > 15
    assert ctx.counters["heldout.f1_pct"] >= 80
