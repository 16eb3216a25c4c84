"""ROUGE-L, coverage and tokenization against hand-computed values."""

from __future__ import annotations

import pytest

from synthmill.recipes.text import content_words, coverage, lcs_length, rouge_l, words


def test_words_lowercases_and_drops_punctuation() -> None:
    assert words("Hello, World! 42 times.") == ["hello", "world", "42", "times"]


def test_lcs_length_of_known_sequences() -> None:
    assert lcs_length(list("ABCBDAB"), list("BDCABA")) == 4
    assert lcs_length([], ["a"]) == 0


def test_rouge_l_matches_hand_computation() -> None:
    # LCS of "the cat sat on the mat" / "the cat lay on the mat" is 5 of 6 words each.
    assert rouge_l("the cat sat on the mat", "the cat lay on the mat") == pytest.approx(5 / 6)
    assert rouge_l("a b c", "a b c") == 1.0
    assert rouge_l("a b c", "x y z") == 0.0
    assert rouge_l("", "x") == 0.0


def test_rouge_l_precision_recall_asymmetry() -> None:
    # LCS 2: precision 2/2, recall 2/4 -> F1 = 2/3
    assert rouge_l("red fox", "the red quick fox") == pytest.approx(2 / 3)


def test_coverage_ignores_stop_words_and_plurals() -> None:
    assert content_words("the plants of the garden") == ["plants", "garden"]
    assert coverage("the plants", "a plant grows") == 1.0
    assert coverage("plants and rocks", "a plant grows") == 0.5
    assert coverage("the", "anything") == 1.0
