"""Diversity and homogeneity metrics of a set of texts or of their embeddings.

Lexical metrics work on word tokens (lowercased \\w+); embedding metrics expect unit-length
rows (all-MiniLM-L6-v2 by default). Each says what it measures and where it comes from.
"""

from __future__ import annotations

import gzip
import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from synthmill.curate.text import words

F32 = npt.NDArray[np.float32]


def tokens(text: str) -> list[str]:
    return words(text.lower())


def _ngrams(toks: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]


def distinct_n(texts: Sequence[str], n: int = 2) -> float:
    """Unique n-grams over all n-grams of the corpus (Li et al. 2016, "distinct-n").

    1.0 means no n-gram repeats; low values mean the texts reuse the same phrases.
    """
    grams = [g for t in texts for g in _ngrams(tokens(t), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def ngram_entropy(texts: Sequence[str], n: int = 2) -> float:
    """Shannon entropy in bits of the corpus n-gram distribution (Zhang et al. 2018, "Ent-n")."""
    counts = Counter(g for t in texts for g in _ngrams(tokens(t), n))
    total = sum(counts.values())
    if not total:
        return 0.0
    p = np.array(list(counts.values()), dtype=np.float64) / total
    return float(-(p * np.log2(p)).sum())


def compression_ratio(texts: Sequence[str]) -> float:
    """Raw size over gzip size of the joined texts (Shaib et al. 2024); higher is more redundant."""
    raw = "\n".join(texts).encode()
    return len(raw) / len(gzip.compress(raw, compresslevel=9, mtime=0)) if raw else 0.0


def self_bleu(texts: Sequence[str], sample: int = 300, seed: int = 0, max_n: int = 4) -> float:
    """Mean BLEU-4 of each sampled text against all the other sampled texts (Zhu et al. 2018).

    High self-BLEU means texts are alike. Uses add-one smoothing for n > 1 (Lin & Och 2004).
    """
    rng = np.random.default_rng(seed)
    picked = [texts[i] for i in rng.permutation(len(texts))[:sample]]
    toks = [tokens(t) for t in picked]
    if len(toks) < 2:
        return 0.0
    counts = [[Counter(_ngrams(t, n)) for n in range(1, max_n + 1)] for t in toks]
    best = _top_two_counts(counts, max_n)
    lengths = np.array([len(t) for t in toks])
    scores = [_bleu(i, counts[i], best, lengths, max_n) for i in range(len(toks))]
    return float(np.mean(scores))


def _top_two_counts(
    counts: list[list[Counter[tuple[str, ...]]]], max_n: int
) -> list[dict[tuple[str, ...], tuple[int, int, int]]]:
    """Per n: n-gram -> (highest count, its owner, second highest), to exclude oneself."""
    best: list[dict[tuple[str, ...], tuple[int, int, int]]] = [{} for _ in range(max_n)]
    for owner, per_n in enumerate(counts):
        for n, counter in enumerate(per_n):
            table = best[n]
            for gram, c in counter.items():
                top, who, second = table.get(gram, (0, -1, 0))
                if c > top:
                    table[gram] = (c, owner, top)
                elif c > second:
                    table[gram] = (top, who, c)
    return best


def _bleu(
    i: int,
    per_n: list[Counter[tuple[str, ...]]],
    best: list[dict[tuple[str, ...], tuple[int, int, int]]],
    lengths: npt.NDArray[np.int64],
    max_n: int,
) -> float:
    logs = []
    for n in range(max_n):
        total = sum(per_n[n].values())
        clipped = 0
        for gram, c in per_n[n].items():
            top, who, second = best[n][gram]
            clipped += min(c, second if who == i else top)
        smooth = 0 if n == 0 else 1
        if total + smooth == 0 or clipped + smooth == 0:
            return 0.0
        logs.append(math.log((clipped + smooth) / (total + smooth)))
    hyp = int(lengths[i])
    others = np.delete(lengths, i)
    ref = int(others[np.argmin(np.abs(others - hyp))])
    brevity = 1.0 if hyp > ref else math.exp(1 - ref / max(hyp, 1))
    return brevity * math.exp(sum(logs) / max_n)


def mean_pairwise_cosine(emb: F32) -> float:
    """Mean cosine similarity over all distinct pairs, exactly, in O(n d).

    Rows are scaled to unit length here (zero rows, which have no direction, are dropped),
    so sum_{i != j} <x_i, x_j> = |sum x|^2 - n holds. High values mean homogeneous data.
    """
    x = _unit_rows(emb)
    n = len(x)
    if n < 2:
        return 0.0
    total = x.sum(axis=0)
    return float((total @ total - n) / (n * (n - 1)))


def _unit_rows(emb: F32) -> npt.NDArray[np.float64]:
    """The nonzero rows scaled to unit length, in float64."""
    x = emb.astype(np.float64)
    norms = np.linalg.norm(x, axis=1)
    keep = norms > 1e-12
    return np.asarray(x[keep] / norms[keep, None], dtype=np.float64)


def vendi_score(emb: F32) -> float:
    """Vendi score: exp of the entropy of the kernel's eigenvalues (Friedman & Dieng 2023).

    Reads as "effective number of distinct items" (1 to n). Uses the dual form: K = X X^T / n
    shares its nonzero eigenvalues with X^T X / n (d x d), so it scales to large n.
    """
    n = len(emb)
    if n == 0:
        return 0.0
    x = emb.astype(np.float64)
    eig = np.linalg.eigvalsh(x.T @ x / n)
    eig = eig[eig > 1e-12]
    return float(np.exp(-(eig * np.log(eig)).sum()))


def kmeans(x: F32, k: int, seed: int = 0, iters: int = 30) -> F32:
    """Centroids of k-means (k-means++ start, Lloyd iterations), seeded; O(n k d) memory-free."""
    rng = np.random.default_rng(seed)
    first = x[int(rng.integers(len(x)))]
    centers = [first]
    dmin = ((x - first) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = float(dmin.sum())
        pick = int(rng.choice(len(x), p=dmin / total)) if total > 0 else int(rng.integers(len(x)))
        centers.append(x[pick])
        dmin = np.minimum(dmin, ((x - x[pick]) ** 2).sum(axis=1))
    c = np.array(centers, dtype=np.float32)
    for _ in range(iters):
        labels = assign(x, c)
        for j in range(k):
            if np.any(labels == j):
                c[j] = x[labels == j].mean(axis=0)
    return c


def assign(x: F32, centers: F32) -> npt.NDArray[np.int64]:
    """Index of the nearest centre of every row."""
    d = (x**2).sum(1)[:, None] - 2 * x @ centers.T + (centers**2).sum(1)[None]
    return np.asarray(d.argmin(axis=1), dtype=np.int64)


def cluster_entropy(emb: F32, k: int = 20, seed: int = 0, reference: F32 | None = None) -> float:
    """Entropy of the rows' k-means cluster shares over log k: 0 (one cluster) to 1 (even).

    Clusters are fit on `reference` (real data) when given, else on the rows themselves,
    where a low value means a few dense modes hold most rows (mode collapse). It measures
    balance only: rows collapsed onto k or more equally used modes still score near 1
    (issue 15: 20 sentences, k = 20 gave 1.000), so read it with Vendi and mean cosine,
    or fit on a real `reference`.
    """
    base = emb if reference is None else reference
    k = min(k, len(base))
    if k < 2 or len(emb) == 0:
        return 0.0
    shares = np.bincount(assign(emb, kmeans(base, k, seed)), minlength=k) / len(emb)
    shares = shares[shares > 0]
    return float(-(shares * np.log(shares)).sum() / math.log(k)) + 0.0


def cluster_coverage(emb: F32, reference: F32, k: int = 20, seed: int = 0) -> float:
    """Share of the reference's k-means clusters that hold at least one row of `emb`.

    Fit on the reference (real data), so 1.0 means every region of it is represented.
    """
    k = min(k, len(reference))
    if k < 1 or len(emb) == 0:
        return 0.0
    centers = kmeans(reference, k, seed)
    return float(len(set(assign(emb, centers).tolist())) / k)


def hashed_vectors(texts: Sequence[str], dim: int = 1024) -> F32:
    """Unit-length hashed TF-IDF vectors: the embedding fallback without the embed extra.

    Words are weighted by smoothed IDF, ln((1 + n) / (1 + df)) + 1, computed on `texts`:
    with raw counts the function words every text shares ("the", "of") dominated every
    vector, so a varied corpus and 20 sentences repeated with small edits had the same
    mean pairwise cosine. IDF lets the content words decide.
    """
    from synthmill.curate.text import ngram_hash

    bags = [Counter(ngram_hash([tok]) % dim for tok in tokens(text)) for text in texts]
    df = np.zeros(dim, dtype=np.float64)
    for bag in bags:
        df[list(bag)] += 1
    idf = np.log((1 + len(texts)) / (1 + df)) + 1
    out = np.zeros((len(texts), dim), dtype=np.float64)
    for i, bag in enumerate(bags):
        for bucket, count in bag.items():
            out[i, bucket] = count * idf[bucket]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.asarray(out / np.where(norms == 0, 1, norms), dtype=np.float32)


def lexical(texts: Sequence[str], sample: int = 300, seed: int = 0) -> dict[str, float]:
    """Every lexical metric, by name."""
    return {
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "distinct_3": distinct_n(texts, 3),
        "entropy_2": ngram_entropy(texts, 2),
        "compression_ratio": compression_ratio(texts),
        "self_bleu": self_bleu(texts, sample, seed),
    }


def semantic(emb: F32, k: int = 20, seed: int = 0) -> dict[str, float]:
    """Every embedding metric, by name."""
    return {
        "mean_pairwise_cosine": mean_pairwise_cosine(emb),
        "vendi_score": vendi_score(emb),
        "cluster_entropy": cluster_entropy(emb, k, seed),
    }
