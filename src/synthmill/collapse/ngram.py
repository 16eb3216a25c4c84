"""A trigram language model trained on real text (KJV verses shipped in collapse/data/).

The model interpolates trigram, bigram and unigram counts (Jelinek-Mercer, lambda 0.7
per level) over a uniform floor on the real vocabulary, so perplexity on held-out real
text stays finite and comparable across generations. Samples come from the counts only
(the floor is never sampled), so a word or bigram lost from the training data is lost
for good: the lab counts how many of the real data's rare bigrams survive.
"""

from __future__ import annotations

import bisect
import math
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from importlib import resources
from itertools import accumulate, pairwise
from typing import Any, ClassVar

import numpy as np

from synthmill.collapse.base import Data, Family, need

BOS, EOS = "<s>", "</s>"
LAMBDA = 0.7
HELD_OUT = 0.1  # the last 10% of lines are the held-out real text
_TOKEN = re.compile(r"[a-z]+|[^\sa-z]")


def load_text() -> list[str]:
    """The shipped real text, one verse per line (see collapse/data/SOURCE.md)."""
    text = resources.files("synthmill.collapse").joinpath("data/kjv.txt").read_text("utf-8")
    return [line for line in text.splitlines() if line.strip()]


def tokenize(line: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(line.lower()))


@dataclass
class TrigramModel:
    """Trigram, bigram and unigram counts (flat Counters: counting runs in C)."""

    tri: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    tri_ctx: Counter[tuple[str, str]] = field(default_factory=Counter)
    bi: Counter[tuple[str, str]] = field(default_factory=Counter)
    bi_ctx: Counter[str] = field(default_factory=Counter)
    uni: Counter[str] = field(default_factory=Counter)
    total: int = 0
    _tables: dict[Any, tuple[list[str], list[int]]] = field(default_factory=dict)

    @classmethod
    def fit(cls, sentences: Any) -> TrigramModel:
        """Count over all sentences at once (one Counter call per order), then drop the
        n-grams that straddle two sentences: exactly those ending in BOS."""
        flat = [t for s in sentences for t in (BOS, BOS, *s, EOS)]
        m = cls()
        m.tri = Counter(zip(flat, flat[1:], flat[2:], strict=False))
        m.bi = Counter(pairwise(flat))
        for counts in (m.tri, m.bi):
            for gram in [g for g in counts if g[-1] == BOS]:
                del counts[gram]
        for (u, v, _), c in m.tri.items():
            m.tri_ctx[u, v] += c
        for (v, _), c in m.bi.items():
            m.bi_ctx[v] += c
        m.uni = Counter(t for t in flat if t != BOS)
        m.total = len(flat) - 2 * len(sentences)
        return m

    def prob(self, u: str, v: str, w: str, vocab: int) -> float:
        p = LAMBDA * self.uni[w] / max(self.total, 1) + (1 - LAMBDA) / vocab
        if n := self.bi_ctx[v]:
            p = LAMBDA * self.bi[v, w] / n + (1 - LAMBDA) * p
        if n := self.tri_ctx[u, v]:
            p = LAMBDA * self.tri[u, v, w] / n + (1 - LAMBDA) * p
        return p

    def sample_prob(self, u: str, v: str, w: str) -> float:
        """The probability that next_word draws w after (u, v): the counts only, no floor."""
        p = self.uni[w] / max(self.total, 1)
        if n := self.bi_ctx[v]:
            p = LAMBDA * self.bi[v, w] / n + (1 - LAMBDA) * p
        if n := self.tri_ctx[u, v]:
            p = LAMBDA * self.tri[u, v, w] / n + (1 - LAMBDA) * p
        return p

    def _draw(self, key: Any, r: random.Random) -> str:
        if not self._tables:
            self._tables = _tables(self)
        words, cum = self._tables[key]
        return words[bisect.bisect_right(cum, r.random() * cum[-1])]

    def next_word(self, u: str, v: str, r: random.Random) -> str:
        if self.tri_ctx[u, v] and r.random() < LAMBDA:
            return self._draw((u, v), r)
        if self.bi_ctx[v] and r.random() < LAMBDA:
            return self._draw(v, r)
        return self._draw(None, r)

    def generate(self, r: random.Random, max_len: int = 60) -> tuple[str, ...]:
        out: list[str] = []
        u, v = BOS, BOS
        while len(out) < max_len:
            w = self.next_word(u, v, r)
            if w == EOS:
                break
            out.append(w)
            u, v = v, w
        return tuple(out)


def _tables(m: TrigramModel) -> dict[Any, tuple[list[str], list[int]]]:
    """Next-word tables per context (a (u, v) pair, a word v, or None for unigrams)."""
    groups: dict[Any, list[tuple[str, int]]] = defaultdict(list)
    for (u, v, w), c in m.tri.items():
        groups[u, v].append((w, c))
    for (v, w), c in m.bi.items():
        groups[v].append((w, c))
    groups[None] = list(m.uni.items())
    return {k: ([w for w, _ in g], list(accumulate(c for _, c in g))) for k, g in groups.items()}


def _as_data(sentences: list[tuple[str, ...]]) -> Data:
    data = np.empty(len(sentences), dtype=object)
    data[:] = sentences
    return data


def bigrams(sentences: Any) -> set[tuple[str, str]]:
    return {(a, b) for s in sentences for a, b in zip((BOS, *s), (*s, EOS), strict=True)}


class NgramLM(Family):
    name: ClassVar[str] = "ngram"
    verify_oversample: ClassVar[int] = 2

    def __init__(self, n: int = 1000, rare_max: int = 1) -> None:
        super().__init__(n)
        self.rare_max = rare_max
        lines = [tokenize(line) for line in load_text()]
        split = int(len(lines) * (1 - HELD_OUT))
        self.train_lines, self.held_out = lines[:split], lines[split:]
        counts = Counter(b for s in self.train_lines for b in bigrams([s]))
        self.real_bigrams = set(counts)
        self.vocab = len({w for s in lines for w in s}) + 1  # +1 for EOS
        need(
            1 <= n <= len(self.train_lines),
            f"ngram: n must be between 1 and {len(self.train_lines)} (the real training lines)",
        )
        need(rare_max >= 1, "ngram: rare_max must be at least 1")
        self._rare: set[tuple[str, str]] = set()  # the rare bigrams of the chain's real data

    def config(self) -> dict[str, Any]:
        return {"n": self.n, "rare_max": self.rare_max, "vocab": self.vocab}

    def real(self, rng: np.random.Generator) -> Data:
        idx = np.sort(rng.choice(len(self.train_lines), size=self.n, replace=False))
        data = _as_data([self.train_lines[i] for i in idx])
        self._rare = _rare_bigrams(data, self.rare_max)
        return data

    def fit(self, data: Data, rng: np.random.Generator) -> TrigramModel:
        return TrigramModel.fit(data)

    def sample(self, model: Any, n: int, rng: np.random.Generator) -> Data:
        r = random.Random(int(rng.integers(2**63)))
        return _as_data([model.generate(r) for _ in range(n)])

    def metrics(self, model: Any, rng: np.random.Generator) -> dict[str, float]:
        seen = set(model.bi)
        real = len(self.real_bigrams & seen)
        sentences = max(model.uni[EOS], 1)
        return {
            "perplexity": self.perplexity(model),
            "rare_bigram_recall": len(self._rare & seen) / max(len(self._rare), 1),
            "bigram_recall": real / len(self.real_bigrams),
            "bigram_precision": real / max(len(seen), 1),
            "vocabulary": float(len(model.uni)),
            "mean_length": (model.total - sentences) / sentences,
        }

    def perplexity(self, model: TrigramModel) -> float:
        log_sum, count = 0.0, 0
        for s in self.held_out:
            padded = (BOS, BOS, *s, EOS)
            for u, v, w in zip(padded, padded[1:], padded[2:], strict=False):
                log_sum += math.log(model.prob(u, v, w, self.vocab))
                count += 1
        return math.exp(-log_sum / count)

    def verify(self, model: Any, candidates: Data, rng: np.random.Generator) -> Data:
        """Keep sentences made only of bigrams that occur in the real training text.

        A correctness check, not a distribution correction: it favours short sentences
        of common bigrams, so it raises bigram precision to 1 but narrows the text (and
        raises held-out perplexity) faster than replace; see the README's lab section.
        """
        ok = [bigrams([s]) <= self.real_bigrams for s in candidates]
        return np.asarray(candidates[np.asarray(ok, dtype=bool)][: self.n])


def _rare_bigrams(data: Data, rare_max: int) -> set[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for s in data:
        counts.update(zip((BOS, *s), (*s, EOS), strict=True))
    return {b for b, c in counts.items() if c <= rare_max}
