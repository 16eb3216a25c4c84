"""`filter.quality`: Gopher/C4/FineWeb-style heuristic rules with per-content profiles.

Prose rules would throw away code (braces, symbols, few stop words) and LaTeX (symbols,
short lines), so each profile keeps only the rules that make sense for its content.
Every threshold is stated here and can be overridden (`thresholds: {min_words: 20}`),
or switched off with null.
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from synthmill.curate.quality_rules import TextStats
from synthmill.curate.text import table_texts, text_of
from synthmill.pipeline.columnar import TableVerdicts
from synthmill.pipeline.stage import Check
from synthmill.records import Record, Verdict

Profile = Literal["prose", "code", "math"]
Language = Literal["en", "de", "fr", "es", "zh", "ja"]  # quality_rules.LANGUAGES


class Thresholds(BaseModel):
    """Rule thresholds; None switches a rule off. Defaults are the prose profile."""

    model_config = ConfigDict(extra="forbid")
    min_words: float | None = 5  # Gopher uses 50 for web pages; synthetic rows are shorter
    max_words: float | None = 100_000  # Gopher
    min_mean_word_length: float | None = 3  # Gopher
    max_mean_word_length: float | None = 10  # Gopher
    max_symbol_word_ratio: float | None = 0.1  # Gopher
    max_bullet_lines: float | None = 0.9  # Gopher
    max_ellipsis_lines: float | None = 0.3  # Gopher
    min_alpha_words: float | None = 0.8  # Gopher
    min_stop_words: float | None = 1  # Gopher asks 2 of 8 on web pages
    max_duplicate_lines: float | None = 0.3  # Gopher
    max_duplicate_line_chars: float | None = 0.2  # Gopher
    max_top_2gram_chars: float | None = 0.2  # Gopher (3-gram 0.18, 4-gram 0.16)
    max_duplicate_5gram_chars: float | None = 0.15  # Gopher (n-gram 5..10: 0.15 .. 0.10)
    min_terminal_punct_lines: float | None = 0.12  # FineWeb
    max_short_lines: float | None = 0.67  # FineWeb, applied to texts of 3+ lines
    forbid_curly_braces: bool = True  # C4
    forbid_lorem_ipsum: bool = True  # C4
    max_line_length: float | None = None  # StarCoder uses 1000 for code
    min_alnum_chars: float | None = None  # StarCoder uses 0.25 for code


PROFILES: dict[str, dict[str, Any]] = {
    "prose": {},
    "code": {
        "min_words": 3,
        "min_mean_word_length": None,
        "max_mean_word_length": None,
        "max_symbol_word_ratio": None,
        "max_bullet_lines": None,
        "min_alpha_words": None,
        "min_stop_words": None,
        "max_duplicate_lines": 0.5,
        "max_duplicate_line_chars": 0.5,
        "max_top_2gram_chars": None,
        "max_duplicate_5gram_chars": 0.5,
        "min_terminal_punct_lines": None,
        "max_short_lines": None,
        "forbid_curly_braces": False,
        "max_line_length": 1000,
        "min_alnum_chars": 0.25,
    },
    "math": {
        "min_words": 3,
        "max_mean_word_length": 20,
        "max_symbol_word_ratio": 0.5,
        "min_alpha_words": 0.4,
        "min_stop_words": None,
        "max_top_2gram_chars": 0.3,
        "max_duplicate_5gram_chars": 0.3,
        "min_terminal_punct_lines": None,
        "max_short_lines": None,
        "forbid_curly_braces": False,
    },
}

# Chinese and Japanese words are one to four characters: Gopher's 3..10 mean word length
# and 50 (here 5) words were set for English; a CJK word carries about 1.5 English words.
LANGUAGE_LIMITS: dict[str, dict[str, Any]] = {
    "zh": {"min_mean_word_length": None, "max_mean_word_length": 6},
    "ja": {"min_mean_word_length": None, "max_mean_word_length": 6},
}

# (threshold field, statistic, "min" or "max", short reason)
RULES: list[tuple[str, str, str, str]] = [
    ("min_words", "n_words", "min", "too few words"),
    ("max_words", "n_words", "max", "too many words"),
    ("min_mean_word_length", "mean_word_length", "min", "words too short"),
    ("max_mean_word_length", "mean_word_length", "max", "words too long"),
    ("max_symbol_word_ratio", "symbol_word_ratio", "max", "too many symbols"),
    ("max_bullet_lines", "bullet_lines", "max", "mostly bullets"),
    ("max_ellipsis_lines", "ellipsis_lines", "max", "mostly ellipses"),
    ("min_alpha_words", "alpha_words", "min", "too few alphabetic words"),
    ("min_stop_words", "stop_words", "min", "too few stop words"),
    ("max_duplicate_lines", "duplicate_lines", "max", "repeated lines"),
    ("max_duplicate_line_chars", "duplicate_line_chars", "max", "repeated lines"),
    ("min_terminal_punct_lines", "terminal_punct_lines", "min", "no terminal punctuation"),
    ("max_line_length", "max_line_length", "max", "line too long"),
    ("min_alnum_chars", "alnum_chars", "min", "too few alphanumerics"),
]


def thresholds_for(profile: str, overrides: dict[str, Any], language: str = "en") -> Thresholds:
    """The profile's thresholds, adjusted for the language, with the user's overrides on top."""
    adjust = LANGUAGE_LIMITS.get(language, {}) if profile == "prose" else {}
    return Thresholds.model_validate({**PROFILES[profile], **adjust, **overrides})


class QualityFilter(Check):
    """Reject rows that fail a heuristic quality rule; the first failing rule is the reason."""

    kind: ClassVar[str] = "filter.quality"
    columns: list[str] = Field(default=["text"], min_length=1, description="Columns judged.")
    profile: Profile = Field(default="prose", description="prose, code or math rule set.")
    thresholds: dict[str, float | bool | None] = Field(
        default_factory=dict, description="Overrides of the profile's thresholds."
    )
    language: Language = Field(
        default="en", description="Language of the text: en, de, fr, es, zh or ja."
    )

    @field_validator("thresholds")
    @classmethod
    def _known(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = set(value) - set(Thresholds.model_fields)
        if unknown:
            raise ValueError(f"unknown thresholds {sorted(unknown)}; see Thresholds fields")
        return value

    def reads(self) -> list[str]:
        return list(self.columns)

    def limits(self) -> Thresholds:
        """The thresholds in force: the profile's, for the language, with the overrides."""
        key = (self.profile, tuple(sorted(self.thresholds.items())), self.language)
        return _limits(*key)

    def check(self, record: Record) -> Verdict:
        return Verdict(*self.judge(text_of(record.data, self.columns), self.limits()))

    def check_table(self, table: pa.Table) -> TableVerdicts:
        """check() on a whole table: the same rules over each row's text, no Record made."""
        if table.num_rows == 0:
            return TableVerdicts(np.zeros(0, dtype=bool), [])
        judge = partial(self.judge, limits=self.limits())
        judged = [v for texts in table_texts(table, self.columns) for v in map(judge, texts)]
        ok, reasons, scores, raws = zip(*judged, strict=True)
        return TableVerdicts(np.array(ok, dtype=bool), reasons, scores, raws)

    def judge(self, text: str, limits: Thresholds) -> tuple[bool, str, float, Any]:
        """(ok, reason, score, raw) of one text: a Verdict's fields."""
        stats = TextStats(text, self.language)
        failed = _first_failure(stats, limits)
        if failed is None:
            return True, "", stats.n_words, None
        reason, rule, value, limit = failed
        return False, reason, value, {"rule": rule, "value": round(value, 4), "threshold": limit}


@lru_cache(maxsize=64)
def _limits(profile: str, overrides: tuple[tuple[str, Any], ...], language: str) -> Thresholds:
    return thresholds_for(profile, dict(overrides), language)


def _first_failure(
    stats: TextStats, limits: Thresholds
) -> tuple[str, str, float, float | bool] | None:
    for field, stat, side, reason in RULES:
        limit = getattr(limits, field)
        if limit is None:
            continue
        value = float(getattr(stats, stat))
        if (side == "min" and value < limit) or (side == "max" and value > limit):
            return reason, field, value, limit
    return _repetition(stats, limits) or _content(stats, limits)


def _repetition(stats: TextStats, limits: Thresholds) -> tuple[str, str, float, float] | None:
    if (top := limits.max_top_2gram_chars) is not None:
        for n in (2, 3, 4):
            value, limit = stats.top_ngram_chars(n), top - 0.02 * (n - 2)
            if value > limit:
                return "repeated n-grams", f"top_{n}gram_chars", value, limit
    if (dup := limits.max_duplicate_5gram_chars) is not None:
        for n in range(5, 11):
            value, limit = stats.duplicate_ngram_chars(n), dup - 0.01 * (n - 5)
            if value > limit:
                return "repeated n-grams", f"duplicate_{n}gram_chars", value, limit
    short = limits.max_short_lines
    if short is not None and len(stats.lines) >= 3 and stats.short_lines > short:
        return "mostly short lines", "max_short_lines", stats.short_lines, short
    return None


def _content(stats: TextStats, limits: Thresholds) -> tuple[str, str, float, bool] | None:
    if limits.forbid_curly_braces and stats.curly_braces:
        return "curly braces", "forbid_curly_braces", 1.0, True
    if limits.forbid_lorem_ipsum and stats.lorem_ipsum:
        return "lorem ipsum", "forbid_lorem_ipsum", 1.0, True
    return None
