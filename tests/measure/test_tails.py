"""Tail coverage against real data: calibrated on real text, flags collapsed text, edits cards.

Tolerances are 4 standard errors of the quantity under test, from the binomial (or, for
coverage, exchangeability) argument written next to each check.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from synthmill.collapse.ngram import NgramLM, load_text
from synthmill.measure.tails import (
    embedding_coverage,
    length_distance,
    measure_tails,
    rare_category_recall,
    warn_below,
)

CLI = [sys.executable, "-m", "synthmill"]


def rows(texts: list[str]) -> list[dict[str, str]]:
    return [{"text": t} for t in texts]


@pytest.fixture(scope="module")
def kjv() -> tuple[list[str], list[str]]:
    """Two disjoint real samples of the shipped KJV text: reference and fresh."""
    lines = load_text()
    idx = np.random.default_rng(0).permutation(len(lines))
    return [lines[i] for i in idx[:1000]], [lines[i] for i in idx[1000:1800]]


@pytest.fixture(scope="module")
def collapsed() -> list[str]:
    """Text from a trigram model after four generations trained on its own output."""
    family, rng = NgramLM(n=800), np.random.default_rng(1)
    data = family.real(rng)
    for _ in range(4):
        data = family.sample(family.fit(data, rng), 800, rng)
    return [" ".join(s) for s in data]


def test_fresh_real_text_is_not_narrowed(kjv: tuple[list[str], list[str]]) -> None:
    real, fresh = kjv
    report = measure_tails(rows(real), rows(fresh))
    m = report.metrics
    a, b = m["rare_2gram_recall_same_size"], m["rare_2gram_recall_real_baseline"]
    n = m["rare_2gram_reference"]
    # both recalls are binomial shares of n rare 2-grams: the ratio's relative s.e. is
    # sqrt((1-a)/(a n) + (1-b)/(b n)), and fresh real text has ratio 1 in expectation
    se = math.sqrt((1 - a) / (a * n) + (1 - b) / (b * n))
    assert abs(m["rare_2gram_tail_ratio"] - 1) < 4 * se
    assert report.warnings == []


def test_collapsed_text_is_flagged(kjv: tuple[list[str], list[str]], collapsed: list[str]) -> None:
    real, _ = kjv
    report = measure_tails(rows(real), rows(collapsed))
    m = report.metrics
    assert m["rare_2gram_tail_ratio"] < m["rare_2gram_warn_below"]
    assert m["rare_2gram_recall"] < m["common_2gram_recall"]
    assert any(w.startswith("narrowed (text): rare 2-grams") for w in report.warnings)
    modes = [real[i % 40] for i in range(800)]  # mode collapse: 40 distinct rows
    assert measure_tails(rows(real), rows(modes)).metrics["rare_2gram_tail_ratio"] < 0.3


def test_warn_threshold_widens_for_small_samples() -> None:
    assert warn_below(0.3, 0.3, 100_000) == pytest.approx(0.8)
    assert warn_below(0.3, 0.3, 50) < 0.5  # 50 rare n-grams: a ratio of 0.6 is just noise


def test_rare_category_recall_matches_a_faithful_sample() -> None:
    cats = [f"c{i}" for i in range(40)]
    p = np.arange(1, 41, dtype=float) ** -1.5
    p /= p.sum()
    rng = np.random.default_rng(3)
    real = list(rng.choice(cats, size=5000, p=p))
    faithful = list(rng.choice(cats, size=300, p=p))
    got = rare_category_recall(real, faithful)
    # recall is the mean of independent-ish Bernoulli(u_c) with u_c = 1 - (1 - p_c)^m
    freq = {c: real.count(c) / len(real) for c in set(real)}
    u = np.array([1 - (1 - q) ** 300 for q in freq.values() if q < 0.05])
    se = math.sqrt(float(np.sum(u * (1 - u)))) / len(u)
    assert got["rare_category_expected"] == pytest.approx(float(u.mean()))
    assert abs(got["rare_category_recall"] - u.mean()) < 4 * se + 1e-9
    common_only = [c for c in faithful if freq[c] >= 0.05]
    report = measure_tails(
        [{"text": "x", "cat": c} for c in real], [{"text": "x", "cat": c} for c in common_only]
    )
    assert report.metrics["cat.rare_category_recall"] == 0.0
    assert any("cat" in w and "rare categories" in w for w in report.warnings)


def test_length_narrowing(kjv: tuple[list[str], list[str]]) -> None:
    real, fresh = kjv
    same = length_distance(real, fresh)
    assert same["length_w1_relative"] < 0.1 and 0.8 < same["length_std_ratio"] < 1.25
    clipped = [" ".join(t.split()[:8]) for t in fresh]
    assert length_distance(real, clipped)["length_std_ratio"] < 0.5
    assert any("lengths" in w for w in measure_tails(rows(real), rows(clipped)).warnings)


def test_embedding_coverage_is_calibrated() -> None:
    rng = np.random.default_rng(5)
    n, k = 400, 5
    real, synth = rng.normal(size=(n, 8)), rng.normal(size=(n, 8))
    # Same distribution: a real row's ball holds no synthetic row iff its k nearest pooled
    # neighbours are all real, with probability prod_i (n-1-i)/(2n-1-i) by exchangeability.
    miss = math.prod((n - 1 - i) / (2 * n - 1 - i) for i in range(k))
    cov = embedding_coverage(real, synth, k)
    assert abs(cov - (1 - miss)) < 4 * math.sqrt(miss * (1 - miss) / n) + 0.02  # + dependence
    narrow = synth[synth[:, 0] > 1.0]  # a synthetic set that lost most of the space
    assert embedding_coverage(real, narrow, k) < 0.5


@pytest.mark.slow
def test_measure_reference_writes_the_card(tmp_path: Path, kjv, collapsed: list[str]) -> None:
    real, _ = kjv
    (tmp_path / "real.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in real))
    (tmp_path / "gen4.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in collapsed))
    run = lambda *a: subprocess.run(  # noqa: E731
        [*CLI, *a], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    made = run("mix", "-s", "gen4.jsonl", "-g", "4", "-o", "gen4run")
    assert made.returncode == 0, made.stderr
    data = next((tmp_path / "gen4run" / "data").glob("*.parquet"))
    for _ in range(2):  # measuring again replaces the section
        out = run("measure", str(data), "--reference", "real.jsonl", "--embedder", "none",
                  "-o", "m.json")  # fmt: skip
        assert out.returncode == 0, out.stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["tail.rare_2gram_tail_ratio"] < metrics["tail.rare_2gram_warn_below"]
    card = (tmp_path / "gen4run" / "README.md").read_text()
    assert card.count("## Tail coverage against `real.jsonl`") == 1
    assert "> **Warning:** narrowed (text): rare 2-grams" in card
    assert "**0.0% synthetic**" not in card and "100.0% synthetic" in card
