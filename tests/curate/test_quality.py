"""Quality rules and profiles: prose rules reject junk, code and LaTeX survive their profiles."""

from __future__ import annotations

import pytest

from synthmill.curate.quality import QualityFilter
from synthmill.curate.quality_rules import TextStats
from synthmill.errors import ConfigError
from synthmill.pipeline.config import validate
from synthmill.records import Record

PROSE = "The committee met on Tuesday and agreed to fund the new library with the city."
CODE = 'def area(r):\n    """Circle area."""\n    return {"value": 3.14159 * r ** 2}\n'
LATEX = r"Let $f(x) = \frac{x^2}{2}$. Then $f'(x) = x$ and $\int_0^1 f(x)\,dx = \frac{1}{6}$."
SPAM = "click here click here click here click here click here click here click here"


def verdict(text: str, **options: object) -> tuple[bool, str, object]:
    v = QualityFilter(**options).check(Record.new({"text": text}, key=text, stage="r"))
    return v.ok, v.reason, v.raw


def test_prose_profile_keeps_prose_rejects_junk() -> None:
    assert verdict(PROSE)[0]
    ok, _, raw = verdict(SPAM)
    assert not ok and raw["rule"] and raw["value"] is not None
    assert (
        verdict("Lorem ipsum dolor sit amet, and the rest of it with the text.")[1] == "lorem ipsum"
    )


def test_code_and_latex_survive_their_profiles_not_prose() -> None:
    assert not verdict(CODE)[0]
    assert verdict(CODE, profile="code")[0]
    assert not verdict(LATEX)[0]
    assert verdict(LATEX, profile="math")[0]
    assert not verdict("x" * 1200 + "\n", profile="code")[0]  # line too long


def test_thresholds_override_and_switch_off() -> None:
    ok, reason, raw = verdict(PROSE, thresholds={"min_words": 50})
    assert not ok and reason == "too few words" and raw["threshold"] == 50
    assert verdict(
        SPAM,
        thresholds={
            "min_stop_words": None,
            "max_top_2gram_chars": None,
            "max_duplicate_5gram_chars": None,
            "max_duplicate_lines": None,
            "min_terminal_punct_lines": None,
        },
    )[0]
    with pytest.raises(ConfigError, match="unknown thresholds"):
        validate(QualityFilter, {"thresholds": {"min_wrods": 3}}, "stages.2")


def test_repetition_statistics() -> None:
    stats = TextStats("a b c d e a b c d e a b c d e\nsame line\nsame line")
    assert stats.duplicate_ngram_chars(5) == pytest.approx(10 / 31)  # words 6-15 repeat
    assert stats.duplicate_lines == pytest.approx(1 / 3)
    assert TextStats(PROSE).duplicate_ngram_chars(5) == 0.0
