"""score.perplexity: word salad the quality rules pass is rejected, fluent prose is kept."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from synthmill.curate.perplexity import (
    DEFAULT_MAX_PERPLEXITY,
    EMBEDDED_MAX_PERPLEXITY,
    FUNCTION_WORDS,
    Perplexity,
    choose_threshold,
    fluent_sentences,
    heldout_report,
    perplexity,
    skeleton,
)
from synthmill.curate.quality import QualityFilter
from synthmill.errors import ConfigError
from synthmill.pipeline.stage import StageContext
from synthmill.records import Record

# Fluent prose not in the held-out file, and salad the quality rules let through.
PROSE = [
    "The bakery on the corner sells fresh bread every morning before seven.",
    "We measured the temperature of the water twice a day for a month.",
    "Her first job after college was at a small newspaper in the north.",
]
STOP_SALAD = [
    "Because which the through about their with should those before that against.",
    "Whether there have these would between other from the before which into.",
    "Their against whose should about over with those because that under then.",
]


def rec(text: str) -> Record:
    return Record.new({"text": text}, key=text, stage="r")


def test_stop_word_salad_passes_quality_but_not_perplexity() -> None:
    quality, ppl = QualityFilter(), Perplexity()
    for text in STOP_SALAD:
        assert quality.check(rec(text)).ok  # the gap issue 15 item 10 names
        verdict = ppl.check(rec(text))
        assert not verdict.ok and verdict.reason == "high perplexity"
        assert verdict.raw["perplexity"] > DEFAULT_MAX_PERPLEXITY
        assert verdict.raw["max_perplexity"] == DEFAULT_MAX_PERPLEXITY


def test_repeated_function_words_do_not_lower_perplexity() -> None:
    for text in ("And the and the and the and the and the and the.", "The the the the the."):
        assert perplexity(text) > DEFAULT_MAX_PERPLEXITY


def test_seeded_stop_word_salad_is_rejected() -> None:
    rng, stops = random.Random(11), sorted(FUNCTION_WORDS)
    for _ in range(30):
        text = " ".join(rng.choices(stops, k=rng.randint(6, 20))).capitalize() + "."
        assert perplexity(text) > DEFAULT_MAX_PERPLEXITY, text


def test_fluent_prose_passes_with_score_in_meta() -> None:
    for text in PROSE:
        verdict = Perplexity().check(rec(text))
        assert verdict.ok and verdict.score is not None
        assert 1 < verdict.score < DEFAULT_MAX_PERPLEXITY
        out = Perplexity().process([rec(text)], _ctx())[0]
        assert out.meta.scores["score.perplexity"] == verdict.score


def test_shuffled_sentences_score_higher_than_their_originals() -> None:
    rng, higher = random.Random(3), 0
    for text in fluent_sentences():
        words = text.rstrip(".").split()
        rng.shuffle(words)
        higher += perplexity(" ".join(words).capitalize() + ".") > perplexity(text)
    assert higher >= 32  # of 40; a trigram over word classes sees local order only


def test_threshold_is_reproduced_on_the_tuning_half_and_holds_on_the_test_half() -> None:
    report = heldout_report(seed=0)
    assert report["threshold"] == pytest.approx(DEFAULT_MAX_PERPLEXITY, abs=0.05)
    assert report["test_accuracy"] >= 0.85
    assert report["test_fluent_pass"] == 1.0
    assert report["test_stopword_salad_rejected"] == 1.0
    assert report["test_shuffled_rejected"] >= 0.4
    for seed in (1, 2):  # other salad seeds: the same bound on the test half
        assert heldout_report(seed)["test_accuracy"] >= 0.85


def test_choose_threshold_known_answer() -> None:
    assert choose_threshold([10, 20], [40, 80]) == pytest.approx((20 * 40) ** 0.5)
    assert choose_threshold([10, 50], [40, 80]) in (pytest.approx((10 * 40) ** 0.5),)


def test_explicit_threshold_score_only_and_empty_text() -> None:
    text = PROSE[0]
    assert not Perplexity(max_perplexity=1.5).check(rec(text)).ok
    assert Perplexity(score_only=True).check(rec(STOP_SALAD[0])).ok
    assert not Perplexity().check(rec("")).ok
    assert skeleton("Then Anna walked 3 miles.") == [
        "then",
        "<Name>",
        "<w-ed>",
        "<num>",
        "<w-s>",
        ".",
    ]


def test_reads_declares_the_text_columns() -> None:
    assert Perplexity().reads() == ["text"]
    assert Perplexity(columns=["q", "a"]).reads() == ["q", "a"]


def _ctx() -> StageContext:
    return StageContext(seed=0, stage="score.perplexity")


def _run(tmp_path: Path, column: str) -> subprocess.CompletedProcess[str]:
    rows = [{"text": t} for t in PROSE + STOP_SALAD]
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = {
        "name": "ppl",
        "seed": 1,
        "stages": [
            {"use": "read", "path": str(data)},
            {"use": "score.perplexity", "columns": [column]},
        ],
        "output": {"dir": str(tmp_path / "run"), "format": "parquet"},
    }
    path = tmp_path / "ppl.yaml"
    path.write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "synthmill", "run", str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_synthmill_run_with_a_yaml(tmp_path: Path) -> None:
    r = _run(tmp_path, "text")
    assert r.returncode == 0, r.stderr
    kept = [
        row
        for p in (tmp_path / "run").rglob("data/*.parquet")
        for row in pq.read_table(p).to_pylist()
    ]
    assert sorted(row["text"] for row in kept) == sorted(PROSE)
    rejects = [
        json.loads(line)
        for p in (tmp_path / "run" / "rejects").rglob("*.jsonl")
        for line in p.read_text().splitlines()
    ]
    assert len(rejects) == len(STOP_SALAD)
    assert all(r["raw"]["perplexity"] > DEFAULT_MAX_PERPLEXITY for r in rejects)


def test_synthmill_run_refuses_a_missing_column(tmp_path: Path) -> None:
    r = _run(tmp_path, "body")
    assert r.returncode == 2 and "body" in r.stderr


@pytest.mark.model
@pytest.mark.slow
def test_embedded_model_threshold_on_held_out_data() -> None:
    report = heldout_report(seed=0, model="embedded")
    assert report["threshold"] == pytest.approx(EMBEDDED_MAX_PERPLEXITY, abs=0.5)
    assert report["test_accuracy"] >= 0.95
    for text in STOP_SALAD:
        verdict = Perplexity(model="embedded").check(rec(text))
        assert not verdict.ok and verdict.raw["model"] == "embedded"
    assert all(Perplexity(model="embedded").check(rec(t)).ok for t in PROSE)


def test_embedded_model_missing_file_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no GGUF file"):
        Perplexity(model="embedded", model_path="/nonexistent/m.gguf").check(rec(PROSE[0]))
