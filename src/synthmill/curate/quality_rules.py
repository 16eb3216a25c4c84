"""Text statistics behind the heuristic quality rules of Gopher, C4 and FineWeb.

References: Rae et al. 2021 (Gopher, appendix A), Raffel et al. 2020 (C4), Penedo et al.
2024 (FineWeb). Each function returns a number; the filter compares it to a threshold.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TypeVar

T = TypeVar("T")

STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})  # Gopher
BULLETS = ("•", "-", "*", "·", "‣", "◦")
TERMINAL = (".", "!", "?", '"', "'", "\u201d", "\u2019", ":", ";")
_WORD = re.compile(r"\S+")


class TextStats:
    """Lazily computed statistics of one text (each computed at most once)."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def words(self) -> list[str]:
        return _WORD.findall(self.text)

    @cached_property
    def lines(self) -> list[str]:
        return [line.strip() for line in self.text.splitlines() if line.strip()]

    @property
    def n_words(self) -> float:
        return len(self.words)

    @property
    def mean_word_length(self) -> float:
        return sum(map(len, self.words)) / len(self.words) if self.words else 0.0

    @property
    def symbol_word_ratio(self) -> float:
        """Hashes and ellipses per word (Gopher: <= 0.1)."""
        n = self.text.count("#") + self.text.count("...") + self.text.count("…")
        return n / max(1, len(self.words))

    @property
    def bullet_lines(self) -> float:
        return _share(self.lines, lambda line: line.startswith(BULLETS))

    @property
    def ellipsis_lines(self) -> float:
        return _share(self.lines, lambda line: line.endswith(("...", "…")))

    @property
    def alpha_words(self) -> float:
        """Share of words with at least one letter (Gopher: >= 0.8)."""
        return _share(self.words, lambda w: any(c.isalpha() for c in w))

    @property
    def stop_words(self) -> float:
        return len({w.lower().strip(".,;:!?") for w in self.words} & STOP_WORDS)

    @property
    def duplicate_lines(self) -> float:
        counts = Counter(self.lines)
        return sum(c - 1 for c in counts.values()) / max(1, len(self.lines))

    @property
    def duplicate_line_chars(self) -> float:
        counts = Counter(self.lines)
        dup = sum(len(line) * (c - 1) for line, c in counts.items())
        return dup / max(1, sum(map(len, self.lines)))

    def top_ngram_chars(self, n: int) -> float:
        """Characters covered by the most frequent word n-gram (Gopher, n = 2..4)."""
        grams = Counter(tuple(self.words[i : i + n]) for i in range(len(self.words) - n + 1))
        if not grams:
            return 0.0
        gram, count = grams.most_common(1)[0]
        if count < 2:
            return 0.0
        return min(1.0, sum(map(len, gram)) * count / max(1, sum(map(len, self.words))))

    def duplicate_ngram_chars(self, n: int) -> float:
        """Characters of words inside n-grams that occur more than once (Gopher, n = 5..10)."""
        w = self.words
        seen: set[tuple[str, ...]] = set()
        covered = [False] * len(w)
        for i in range(len(w) - n + 1):
            gram = tuple(w[i : i + n])
            if gram in seen:
                covered[i : i + n] = [True] * n
            seen.add(gram)
        dup = sum(len(x) for x, c in zip(w, covered, strict=True) if c)
        return dup / max(1, sum(map(len, w)))

    @property
    def terminal_punct_lines(self) -> float:
        """Share of lines ending in terminal punctuation (FineWeb: >= 0.12)."""
        return _share(self.lines, lambda line: line.endswith(TERMINAL))

    @property
    def short_lines(self) -> float:
        """Share of lines of at most 30 characters (FineWeb: <= 0.67)."""
        return _share(self.lines, lambda line: len(line) <= 30)

    @property
    def curly_braces(self) -> float:
        return float("{" in self.text)

    @property
    def lorem_ipsum(self) -> float:
        return float("lorem ipsum" in self.text.lower())

    @property
    def max_line_length(self) -> float:
        return max(map(len, self.text.splitlines()), default=0)

    @property
    def alnum_chars(self) -> float:
        """Share of alphanumeric characters (StarCoder code filter: >= 0.25)."""
        return _share(self.text, str.isalnum) if self.text else 0.0


def _share(items: Sequence[T], pred: Callable[[T], bool]) -> float:
    return sum(1 for x in items if pred(x)) / len(items) if items else 0.0
