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


# Known-answer tests (issue 15, item 8): three corpora whose metric values follow on paper.

A = "the cat sat on the mat"  # 6 tokens, 5 types; bigrams: 5, all distinct
B = "quantum fields describe particle interactions"  # 5 tokens, disjoint from A


def test_identical_rows_known_answers() -> None:
    """n = 10 copies of A.

    distinct-1 = types / tokens = 5 / 60; distinct-2 = 5 / 50.
    Ent-1 = entropy of one copy's unigram shares (the copies do not change shares):
    "the" 2/6, four words 1/6 each -> -(1/3)log2(1/3) - 4(1/6)log2(1/6).
    self-BLEU = 1: every n-gram of a copy is matched by another copy, same length.
    Every embedding is the same unit vector: cosine of every pair 1; the kernel is the
    all-ones matrix, K/n has one eigenvalue 1, so Vendi = exp(0) = 1; one cluster holds
    every row, so the share entropy is 0. gzip: 10 x 23 bytes collapse to one copy plus
    back-references, so the ratio exceeds 2 (and grows with n).
    """
    rows = [A] * 10
    assert dv.distinct_n(rows, 1) == pytest.approx(5 / 60)
    assert dv.distinct_n(rows, 2) == pytest.approx(5 / 50)
    ent = -(1 / 3) * np.log2(1 / 3) - 4 * (1 / 6) * np.log2(1 / 6)
    assert dv.ngram_entropy(rows, 1) == pytest.approx(ent)
    assert dv.self_bleu(rows) == pytest.approx(1.0)
    assert dv.compression_ratio(rows) > 2
    assert dv.compression_ratio([A] * 200) > 20  # 4,600 bytes -> one copy + ~18 matches
    emb = dv.hashed_vectors(rows)
    assert dv.mean_pairwise_cosine(emb) == pytest.approx(1.0)
    assert dv.vendi_score(emb) == pytest.approx(1.0)
    assert dv.cluster_entropy(emb, k=5) == pytest.approx(0.0)


def test_two_clusters_known_answers() -> None:
    """n = 10 rows, 5 of A and 5 of B, no word shared.

    distinct-1 = (5 + 5) types / (5*6 + 5*5) tokens = 10/55.
    Hashed vectors of A and B are orthogonal (their word buckets differ, checked), so only
    same-text pairs have cosine 1: 2 * C(5,2) / C(10,2) = 20/45 = 4/9.
    Vendi: K/n is two 5x5 blocks of 1/10, eigenvalues 1/2, 1/2,
    entropy ln 2, Vendi = 2. Cluster entropy with k = 2: shares 1/2, 1/2 -> ln 2 / ln 2 = 1;
    with k = 4 the extra centres land on duplicates and stay empty: ln 2 / ln 4 = 1/2.
    self-BLEU = 1 (each row has an identical twin).
    """
    rows = [A] * 5 + [B] * 5
    emb = dv.hashed_vectors(rows)
    assert float(emb[0] @ emb[-1]) == pytest.approx(0.0)
    assert dv.distinct_n(rows, 1) == pytest.approx(10 / 55)
    assert dv.mean_pairwise_cosine(emb) == pytest.approx(4 / 9)
    assert dv.vendi_score(emb) == pytest.approx(2.0)
    assert dv.cluster_entropy(emb, k=2) == pytest.approx(1.0)
    assert dv.cluster_entropy(emb, k=4) == pytest.approx(0.5)
    assert dv.self_bleu(rows) == pytest.approx(1.0)


def uniform_vocab(size: int, dim: int = 1024) -> list[str]:
    """`size` words whose hash buckets are all different, so vectors have no collisions."""
    from synthmill.curate.text import ngram_hash

    words, buckets = [], set()
    i = 0
    while len(words) < size:
        w = f"w{i}x"
        b = ngram_hash([w]) % dim
        if b not in buckets:
            words.append(w)
            buckets.add(b)
        i += 1
    return words


def test_uniform_random_text_known_answers() -> None:
    """n = 400 texts of L = 20 words drawn uniformly from V = 200 words.

    distinct-1: N = 8000 tokens; expected types V(1 - (1 - 1/V)^N) = 200 (all seen), so
    distinct-1 = 200/8000. Ent-1 -> log2 V = 7.644 less the Miller-Madow bias
    (V - 1)/(2 N ln 2) = 0.018. Cosine of two count vectors c1, c2: E<c1,c2> = L^2/V = 2,
    E|c|^2 = L + L(L-1)/V = 21.9; all words have the same IDF in expectation, which cancels,
    so the mean cosine is about 2/21.9 = 0.091. Vendi: far above the 1 of identical rows and
    at most V = 200 (the vectors span V dimensions). Random letters: 4.70 bits/char of
    entropy (log2 26), so gzip can save at most 1 - 4.70/8: ratio below 8/4.70 = 1.70.
    """
    rng = np.random.default_rng(0)
    vocab = uniform_vocab(200)
    rows = [" ".join(rng.choice(vocab, 20)) for _ in range(400)]
    assert dv.distinct_n(rows, 1) == pytest.approx(200 / 8000)
    assert dv.ngram_entropy(rows, 1) == pytest.approx(
        np.log2(200) - 199 / (2 * 8000 * np.log(2)), abs=0.02
    )
    emb = dv.hashed_vectors(rows)
    assert dv.mean_pairwise_cosine(emb) == pytest.approx(2 / 21.9, rel=0.1)
    assert 100 < dv.vendi_score(emb) <= 200
    letters = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), 20000))
    assert 1.5 < dv.compression_ratio([letters]) < 8 / np.log2(26)


def test_random_unit_vectors_have_zero_mean_cosine() -> None:
    """Isotropic unit vectors: E<x_i, x_j> = 0 and Var = 1/d per pair, so the mean over
    n(n-1)/2 pairs has sd about sqrt(2 / (n (n-1) d)) = 0.0008 for n = 500, d = 64."""
    x = unit(np.random.default_rng(3).normal(size=(500, 64)))
    assert abs(dv.mean_pairwise_cosine(x)) < 5 * np.sqrt(2 / (500 * 499 * 64))


def test_cosine_does_not_assume_unit_rows() -> None:
    """Scaled rows and an empty text (zero vector) used to break |sum x|^2 - n: rows
    [2e1, 2e1, 0] gave (16 - 3)/6 = 2.17; the two nonzero rows are parallel: cosine 1."""
    x = np.array([[2.0, 0.0], [2.0, 0.0], [0.0, 0.0]], dtype=np.float32)
    assert dv.mean_pairwise_cosine(x) == pytest.approx(1.0)


def test_hashed_vectors_separate_varied_from_collapsed() -> None:
    """The issue's case: 20 sentences repeated with one-word edits against varied text,
    both full of the same function words. Raw counts gave both the same mean cosine;
    with IDF the collapsed set must be clearly more homogeneous."""
    rng = np.random.default_rng(5)
    content = uniform_vocab(900)
    stop = [
        "the",
        "a",
        "of",
        "to",
        "and",
        "in",
        "is",
        "it",
        "that",
        "for",
        "on",
        "with",
        "as",
        "was",
        "by",
        "at",
    ]

    def sentence() -> list[str]:
        return [
            str(rng.choice(content)) if rng.random() < 0.4 else str(rng.choice(stop))
            for _ in range(14)
        ]

    varied = [" ".join(sentence()) for _ in range(1000)]
    base = [sentence() for _ in range(20)]
    collapsed = []
    for i in range(1000):
        s = list(base[i % 20])
        s[int(rng.integers(14))] = str(rng.choice(stop))
        collapsed.append(" ".join(s))
    cos_v = dv.mean_pairwise_cosine(dv.hashed_vectors(varied))
    cos_c = dv.mean_pairwise_cosine(dv.hashed_vectors(collapsed))
    assert cos_c > 2 * cos_v
