"""filter.quality in German, French, Spanish, Chinese and Japanese (issue 15, item 9).

Good prose in each language must pass its own language's rules; under the English rules
(Gopher's English stop words, words split on spaces) the same texts failed.
"""

# ruff: noqa: RUF001  (real Chinese and Japanese text uses fullwidth punctuation)

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from synthmill.curate.quality import QualityFilter
from synthmill.curate.quality_rules import TextStats
from synthmill.records import Record

GOOD = {
    "de": [
        "Der Zug nach München hatte heute Morgen eine Verspätung von zwanzig Minuten. "
        "Viele Pendler warteten geduldig auf dem Bahnsteig und tranken Kaffee.",
        "Im Herbst sammeln die Kinder Kastanien im Park und basteln daraus kleine Tiere. "
        "Die Eltern helfen ihnen dabei, die Löcher vorsichtig zu bohren.",
        "Unsere Bibliothek hat ihre Öffnungszeiten erweitert. Ab nächster Woche ist sie "
        "auch am Samstag bis achtzehn Uhr für alle Besucher geöffnet.",
    ],
    "fr": [
        "Le marché du samedi attire beaucoup de monde depuis que les producteurs locaux "
        "vendent leurs fromages et leurs légumes directement aux habitants.",
        "Après une longue journée de travail, elle aime lire un roman dans le jardin "
        "pendant que le soleil se couche derrière les collines.",
        "La mairie a annoncé que la piscine municipale sera fermée pendant deux semaines "
        "pour des travaux de rénovation. Les cours de natation reprendront en mars.",
    ],
    "es": [
        "La biblioteca del barrio organiza talleres de lectura para niños todos los "
        "sábados por la mañana, y la entrada es gratuita para las familias.",
        "Mi abuela cocina una paella excelente los domingos. Siempre dice que el secreto "
        "está en el caldo y en tener paciencia con el arroz.",
        "El ayuntamiento ha plantado cien árboles nuevos en el parque central para dar "
        "más sombra durante los meses de verano.",
    ],
    "zh": [
        "今天早上的火车晚点了二十分钟，很多乘客在站台上耐心地等待，有些人一边喝咖啡一边看书。",
        "我们学校的图书馆延长了开放时间，从下周开始，星期六也会开放到晚上六点。",
        "秋天到了，孩子们在公园里捡栗子，然后用它们做成各种小动物，父母在旁边帮忙。",
    ],
    "ja": [
        "今朝の電車は二十分遅れましたが、多くの乗客はホームで静かに待っていました。",
        "私たちの図書館は来週から土曜日も夜六時まで開館することになりました。",
        "秋になると、子どもたちは公園で栗を拾って、小さな動物を作って遊びます。",
    ],
}


def rec(text: str) -> Record:
    return Record.new({"text": text}, key=text, stage="read")


def kept(texts: list[str], language: str) -> int:
    stage = QualityFilter(language=language)
    return sum(stage.check(rec(t)).ok for t in texts)


@pytest.mark.parametrize("language", sorted(GOOD))
def test_good_prose_passes_its_own_language_rules(language: str) -> None:
    assert kept(GOOD[language], language) == len(GOOD[language])


@pytest.mark.parametrize("language", sorted(GOOD))
def test_the_english_rules_rejected_it(language: str) -> None:
    """Without a language the rules are English: most of these texts fail (the bug)."""
    assert kept(GOOD[language], "en") < len(GOOD[language])


def test_segmentation_counts_cjk_words() -> None:
    """jieba splits 我们今天在北京学习中文 into 我们/今天/在/北京/学习/中文: 6 words."""
    assert TextStats("我们今天在北京学习中文。", "zh").n_words == 6
    assert TextStats("我们今天在北京学习中文。", "en").n_words == 1
    assert TextStats("私は東京で日本語を勉強します。", "ja").n_words >= 6


def test_stop_words_come_from_the_language() -> None:
    """German function words count for German, not for English; and text in the wrong
    language's words has none of the chosen language's stop words."""
    text = "Der Hund und die Katze sind mit dem Auto in die Stadt gefahren."
    assert TextStats(text, "de").stop_words >= 5
    assert TextStats(text, "en").stop_words == 0
    salad = "Haus Baum Wolke Fenster Tisch Lampe Garten Straße."
    assert not QualityFilter(language="de").check(rec(salad)).ok


def test_short_and_repetitive_cjk_still_fail() -> None:
    stage = QualityFilter(language="zh")
    assert stage.check(rec("你好。")).reason == "too few words"
    assert not stage.check(rec("我们学习中文。" * 12)).ok


def test_unknown_language_is_a_config_error() -> None:
    from synthmill.errors import ConfigError
    from synthmill.pipeline.config import validate

    with pytest.raises(ConfigError, match="language"):
        validate(QualityFilter, {"language": "xx"}, "stages.1")


def test_filter_command_applies_the_language_to_the_rules(tmp_path: Path) -> None:
    src = tmp_path / "de.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in GOOD["de"]))
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "synthmill", "filter", str(src), "-o", str(out)]
    r = subprocess.run([*cmd, "--language", "de"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert len(out.read_text().splitlines()) == len(GOOD["de"])
