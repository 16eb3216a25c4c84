"""Diversity metrics: known values on constructed corpora, and the measure command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from synthmill.measure import diversity as dv

VARIED = [
    "the cat sat on the mat",
    "stock markets fell sharply on monday",
    "quantum fields describe particle interactions",
    "she baked bread with rye flour and salt",
    "rain is expected across the north tonight",
]


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_lexical_metrics_separate_repetitive_from_varied() -> None:
    same = ["the cat sat on the mat"] * 5
    assert dv.distinct_n(same, 2) == pytest.approx(5 / 25)
    assert dv.distinct_n(VARIED, 1) > 0.9
    assert dv.ngram_entropy(same, 1) == pytest.approx(
        -(2 / 6) * np.log2(2 / 6) - 4 / 6 * np.log2(1 / 6)
    )
    assert dv.compression_ratio(same * 20) > dv.compression_ratio(VARIED * 4)
    assert dv.self_bleu(same) == pytest.approx(1.0)
    assert dv.self_bleu(VARIED) < 0.2


def test_self_bleu_excludes_the_hypothesis_itself() -> None:
    texts = [*VARIED, VARIED[0]]
    assert 0.2 < dv.self_bleu(texts) < 0.5  # only the duplicated pair scores 1


def test_embedding_metrics_on_known_geometry() -> None:
    eye = np.eye(8, dtype=np.float32)
    assert dv.mean_pairwise_cosine(eye) == pytest.approx(0.0)
    assert dv.vendi_score(eye) == pytest.approx(8.0)
    same = np.repeat(eye[:1], 10, axis=0)
    assert dv.mean_pairwise_cosine(same) == pytest.approx(1.0)
    assert dv.vendi_score(same) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    x = unit(rng.normal(size=(60, 16)))
    brute = (x @ x.T)[~np.eye(60, dtype=bool)].mean()
    assert dv.mean_pairwise_cosine(x) == pytest.approx(brute, abs=1e-5)
    kernel = np.linalg.eigvalsh(x @ x.T / 60)
    kernel = kernel[kernel > 1e-12]
    assert dv.vendi_score(x) == pytest.approx(np.exp(-(kernel * np.log(kernel)).sum()), rel=1e-4)


def test_clusters_entropy_and_coverage() -> None:
    rng = np.random.default_rng(1)
    centers = unit(rng.normal(size=(4, 16))) * 10
    blobs = np.concatenate([c + rng.normal(size=(50, 16)) * 0.1 for c in centers]).astype(
        np.float32
    )
    assert dv.cluster_entropy(blobs, k=4) == pytest.approx(1.0, abs=0.02)
    assert dv.cluster_entropy(blobs[:50], k=4, reference=blobs) == pytest.approx(0.0)
    collapsed = np.concatenate([np.repeat(blobs[:1], 180, axis=0), blobs[::10]])
    assert dv.cluster_entropy(collapsed, k=4) < 0.6
    assert dv.cluster_coverage(blobs[:50], blobs, k=4) == pytest.approx(0.25)
    assert dv.cluster_coverage(blobs, blobs, k=4) == pytest.approx(1.0)


def test_measure_command_writes_a_flat_json(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in VARIED * 3))
    out = tmp_path / "m.json"
    cmd = [
        sys.executable,
        "-m",
        "synthmill",
        "measure",
        str(src),
        "--out",
        str(out),
        "--embedder",
        "hashed",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    metrics = json.loads(out.read_text())
    assert metrics["rows"] == 15 and metrics["embedder"] == "hashed-bow-1024"
    assert set(metrics) >= {"distinct_2", "self_bleu", "vendi_score", "cluster_entropy"}
    assert metrics["vendi_score"] == pytest.approx(5.0, rel=0.05)  # 5 distinct texts
    assert "distinct_2" in r.stdout
