"""A corpus with planted near-duplicates of known Jaccard similarity, for tests and bench.

Base documents are random words from a large made-up vocabulary (so unrelated documents
share almost no shingles); each planted copy replaces random words of its original until
the exact Jaccard of their word-shingle sets falls to the target, and records that value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthmill.curate.text import jaccard, shingles


@dataclass(frozen=True)
class Planted:
    """A planted copy: its index, its original's index, and their exact Jaccard."""

    copy: int
    original: int
    jaccard: float


def vocabulary(size: int, rng: np.random.Generator) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(3, 10, size=size)
    return ["".join(rng.choice(letters, size=n)) for n in lengths]


def mutate(
    words: list[str], target: float, shingle_size: int, rng: np.random.Generator, vocab: list[str]
) -> tuple[list[str], float]:
    """Replace words until the shingle-set Jaccard with the original is <= target.

    Random positions first (coarse steps), then from the end backwards (one shingle a step).
    """
    original = shingles(" ".join(words), "word", shingle_size)
    out = list(words)
    sim = 1.0
    order = [int(p) for p in rng.permutation(len(words))]
    coarse = [p for p in order if p < len(words) - 2 * shingle_size]
    is_coarse = set(coarse)
    tail = list(range(len(words) - 1, -1, -1))
    for pos in coarse + tail:
        if sim <= target:
            break
        step = 0.12 if pos in is_coarse else 0.0
        if pos in is_coarse and sim - step <= target:
            continue
        out[pos] = vocab[int(rng.integers(len(vocab)))]
        sim = jaccard(original, shingles(" ".join(out), "word", shingle_size))
    return out, sim


def corpus(
    n_docs: int,
    targets: list[float],
    n_planted: int,
    *,
    words: tuple[int, int] = (60, 120),
    shingle_size: int = 5,
    seed: int = 0,
) -> tuple[list[str], list[Planted]]:
    """`n_docs` texts, the last `n_planted` of which are mutated copies of earlier ones.

    Copy k targets Jaccard `targets[k % len(targets)]`; the true value is in Planted.
    """
    rng = np.random.default_rng(seed)
    vocab = vocabulary(20000, rng)
    n_base = n_docs - n_planted
    docs = [
        [vocab[i] for i in rng.integers(len(vocab), size=int(rng.integers(*words)))]
        for _ in range(n_base)
    ]
    planted = []
    for k in range(n_planted):
        original = int(rng.integers(n_base))
        copy, sim = mutate(docs[original], targets[k % len(targets)], shingle_size, rng, vocab)
        planted.append(Planted(len(docs), original, sim))
        docs.append(copy)
    return [" ".join(d) for d in docs], planted
