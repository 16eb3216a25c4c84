"""New values for columns that must not be copied: IDs, rare categories, free text.

An ID column's values are all distinct, so copying them would copy identities and
modelling them as categories would cost memory per value. Instead a value's *pattern*
is learned (digits, upper- and lower-case letters, literal punctuation: `CU-0042` is
`AA-0000`) and new values are drawn in it; IDs get their digits from a bijection of the
row number, so they stay unique across shards. Free text gets words drawn from its
common vocabulary (words in at least MIN_DF rows), never whole real texts.
"""

from __future__ import annotations

import itertools
import string
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]
SAMPLE = 2000  # values a pattern or vocabulary is learned from
MIN_DF = 5  # a word must appear in this many rows to be drawn
_DIGITS = np.array(list(string.digits))
_UPPER = np.array(list(string.ascii_uppercase))
_LOWER = np.array(list(string.ascii_lowercase))


def template(value: str) -> str:
    """`CU-0042` -> `AA-0000`: digits 0, upper A, lower a, anything else literal."""
    out = []
    for ch in value:
        if ch.isdigit():
            out.append("0")
        elif ch.isalpha():
            out.append("A" if ch.isupper() else "a")
        else:
            out.append(ch)
    return "".join(out)


def _sample(values: list[str], rng: np.random.Generator) -> list[str]:
    if len(values) <= SAMPLE:
        return values
    return [values[i] for i in rng.choice(len(values), SAMPLE, replace=False)]


@dataclass
class Patterns:
    """The most common templates of a column and how often each occurs."""

    templates: list[str]
    probs: Array
    unique: bool = False
    fixed: list[dict[int, str]] = field(default_factory=list)  # positions every value shares

    @classmethod
    def fit(cls, values: list[str], rng: np.random.Generator, unique: bool = False) -> Patterns:
        sample = _sample(values, rng)
        counts = Counter(template(v) for v in sample).most_common(20)
        if not counts:
            counts = [("Aaaaa", 1)]
        if unique:  # one template, so the row-number bijection keeps values distinct
            counts = counts[:1]
        total = sum(n for _, n in counts)
        fixed = [_shared_positions([v for v in sample if template(v) == t]) for t, _ in counts]
        probs = np.array([n / total for _, n in counts])
        return cls([t for t, _ in counts], probs, unique, fixed)

    def describe(self) -> str:
        return "pattern " + ", ".join(f"'{t}'" for t in self.templates[:3])

    def sample(self, n: int, rng: np.random.Generator, start: int = 0) -> list[str]:
        """`n` new values; with `unique`, row `start + i` always gets the same digits."""
        if self.unique:
            tpl = self._widened(start + n)
            return [_fill(tpl, self.fixed[0], rng, start + i) for i in range(n)]
        picks = rng.choice(len(self.templates), n, p=self.probs)
        return [_fill(self.templates[k], self.fixed[k], rng, None) for k in picks]

    def _widened(self, rows: int) -> str:
        """The ID template with enough digit slots for `rows` distinct values."""
        tpl = self.templates[0]
        need = max(len(str(rows)) + 1 - tpl.count("0"), 0)
        return tpl + "0" * need


def _shared_positions(values: list[str]) -> dict[int, str]:
    """Letters that every value has at the same place (the `CU` of `CU-0042`); digits vary."""
    if len(values) < 2:
        return {}
    first = values[0]
    return {
        i: ch
        for i, ch in enumerate(first)
        if ch.isalpha() and all(len(v) > i and v[i] == ch for v in values)
    }


def _fill(tpl: str, fixed: dict[int, str], rng: np.random.Generator, row: int | None) -> str:
    slots = tpl.count("0")
    digits = _permuted(row, slots) if row is not None else "".join(rng.choice(_DIGITS, slots))
    it = iter(digits)
    out = []
    for i, ch in enumerate(tpl):
        if i in fixed:
            out.append(fixed[i])
        elif ch == "0":
            out.append(next(it))
        elif ch == "A":
            out.append(str(rng.choice(_UPPER)))
        elif ch == "a":
            out.append(str(rng.choice(_LOWER)))
        else:
            out.append(ch)
    return "".join(out)


def _permuted(row: int, slots: int) -> str:
    """Row -> digit string, a bijection on [0, 10**slots): distinct rows, distinct values."""
    space = 10**slots
    mult = 7_919 if space > 7_919 else 3  # coprime with 10, so the map is one-to-one
    return str((row * mult + 12_345) % space).zfill(slots)


@dataclass
class Vocabulary:
    """Free text as a bag of common words and a distribution of lengths in words."""

    words: list[str]
    probs: Array
    lengths: Array
    fallback: Patterns | None = field(default=None)

    @classmethod
    def fit(cls, values: list[str], rng: np.random.Generator) -> Vocabulary:
        texts = _sample(values, rng)
        df: Counter[str] = Counter()
        for text in texts:
            df.update(set(text.split()))
        common = {w: n for w, n in df.items() if n >= MIN_DF}
        lengths = np.array([max(len(t.split()), 1) for t in texts])
        total = sum(common.values())
        probs = np.array([n / total for n in common.values()]) if total else np.zeros(0)
        fallback = None if common else Patterns.fit(texts, rng)
        return cls(list(common), probs, lengths, fallback)

    def describe(self) -> str:
        if self.fallback is not None:
            return "no word in 5+ rows: " + self.fallback.describe()
        return f"{len(self.words)} common words, median {int(np.median(self.lengths))} words"

    def sample(self, n: int, rng: np.random.Generator) -> list[str]:
        if self.fallback is not None:
            return self.fallback.sample(n, rng)
        lengths = rng.choice(self.lengths, n)
        drawn = rng.choice(len(self.words), int(lengths.sum()), p=self.probs)
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        return [" ".join(self.words[k] for k in drawn[a:b]) for a, b in itertools.pairwise(bounds)]
