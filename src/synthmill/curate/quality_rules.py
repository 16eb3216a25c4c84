"""Text statistics behind the heuristic quality rules of Gopher, C4 and FineWeb.

References: Rae et al. 2021 (Gopher, appendix A), Raffel et al. 2020 (C4), Penedo et al.
2024 (FineWeb). Each function returns a number; the filter compares it to a threshold.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from functools import cache, cached_property
from typing import Any, TypeVar

from synthmill.errors import MissingExtraError

T = TypeVar("T")

STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})  # Gopher
BULLETS = ("•", "-", "*", "·", "‣", "◦")
TERMINAL = (
    ".",
    "!",
    "?",
    '"',
    "'",
    "\u201d",
    "\u2019",
    ":",
    ";",
    "\u3002",
    "\uff01",
    "\uff1f",
    "\u300d",
    "\u300f",
)
_WORD = re.compile(r"\S+")
# Languages the rules know: English keeps Gopher's own 8 stop words; the others take
# stop words from stopwordsiso; Chinese is segmented by jieba, Japanese by TinySegmenter.
LANGUAGES = ("en", "de", "fr", "es", "zh", "ja")
CJK = ("zh", "ja")


class TextStats:
    """Lazily computed statistics of one text (each computed at most once)."""

    def __init__(self, text: str, language: str = "en") -> None:
        self.text = text
        self.language = language
        self._unique_from = 1 << 30  # the least n known to have no repeated word n-gram

    @cached_property
    def words(self) -> list[str]:
        """Whitespace words; for Chinese and Japanese, segmented words without punctuation."""
        if self.language not in CJK:
            return _WORD.findall(self.text)
        return [w for w in segment(self.text, self.language) if any(c.isalnum() for c in w)]

    @cached_property
    def _word_counts(self) -> Counter[str]:
        return Counter(self.words)

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
        if not self.words:
            return 0.0
        alpha = sum(c for w, c in self._word_counts.items() if any(map(str.isalpha, w)))
        return alpha / len(self.words)

    @property
    def stop_words(self) -> float:
        """Distinct stop words of the language in the text (Gopher counts 8 English ones)."""
        found = {w.lower().strip(".,;:!?\u00ab\u00bb\"'()") for w in self._word_counts}
        return len(found & stop_words(self.language))

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
        if self._distinct(n):
            return 0.0
        grams = Counter(zip(*(self.words[i:] for i in range(n)), strict=False))
        if not grams:
            return 0.0
        gram, count = grams.most_common(1)[0]
        if count < 2:
            self._unique_from = min(self._unique_from, n)
            return 0.0
        return min(1.0, sum(map(len, gram)) * count / max(1, self._word_chars))

    def duplicate_ngram_chars(self, n: int) -> float:
        """Characters of words inside n-grams that occur more than once (Gopher, n = 5..10)."""
        w = self.words
        if self._distinct(n):
            return 0.0
        grams = list(zip(*(w[i:] for i in range(n)), strict=False))
        if len(set(grams)) == len(grams):
            self._unique_from = min(self._unique_from, n)
            return 0.0
        seen: set[tuple[str, ...]] = set()
        covered = [False] * len(w)
        for i, gram in enumerate(grams):
            if gram in seen:
                covered[i : i + n] = [True] * n
            seen.add(gram)
        dup = sum(len(x) for x, c in zip(w, covered, strict=True) if c)
        return dup / max(1, self._word_chars)

    def _distinct(self, n: int) -> bool:
        """Whether no word n-gram repeats, known without counting: none of a shorter
        length did (every repeated n-gram starts with a repeated shorter one)."""
        return n >= self._unique_from

    @cached_property
    def _word_chars(self) -> int:
        return sum(map(len, self.words))

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


@cache
def stop_words(language: str) -> frozenset[str]:
    """Gopher's 8 words for English; the stopwordsiso list of any other language."""
    if language == "en":
        return STOP_WORDS
    try:
        import stopwordsiso
    except ImportError:
        raise MissingExtraError("stopwordsiso", "curate") from None
    return frozenset(w.lower() for w in stopwordsiso.stopwords(language))


def segment(text: str, language: str) -> list[str]:
    """Words of Chinese (jieba) or Japanese (TinySegmenter) text, which has no spaces."""
    return [w for w in _segmenter(language)(text) if w.strip()]


@cache
def _segmenter(language: str) -> Any:
    try:
        if language == "zh":
            import jieba  # type: ignore[import-untyped]

            jieba.setLogLevel(60)  # its dictionary-loading notices are not ours to print
            return jieba.lcut
        import tinysegmenter  # type: ignore[import-untyped]

        return tinysegmenter.TinySegmenter().tokenize
    except ImportError:
        raise MissingExtraError("jieba and tinysegmenter", "curate") from None
