"""`synthmill stages RECIPE` lists every option of each recipe with its type and default."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from synthmill.cli import app
from synthmill.pipeline.registry import stage_class
from synthmill.recipes import LITERATURE_RECIPES

RECIPES = [*LITERATURE_RECIPES, "topics.cluster"]
# (option, type, default) as a reader of the table sees them
EXPECTED = {
    "magpie": [
        ("n", "int", "required"),
        ("template", "str", "'auto'"),
        ("prefix", "str | None", "null"),
        ("stop", "list[str]", "[]"),
        ("temperature", "float", "0.7"),
        ("responses", "bool", "true"),
        ("backend", "backend", "the pipeline's backend, else llamacpp"),
    ],
    "textbook": [("min_words", "int", "30"), ("prompts", "dict[str, str]", "{}")],
    "topics.cluster": [("clusters", "int", "8"), ("columns", "dict[str, Any]", "{}")],
    "multiturn": [("turns", "int", "3"), ("system", "str | None", "null")],
}


def table(name: str) -> dict[str, list[str]]:
    """option -> its cells, from the rich table `synthmill stages NAME` prints."""
    result = CliRunner().invoke(app, ["stages", name], env={"COLUMNS": "400"}, terminal_width=400)
    assert result.exit_code == 0, result.output
    rows: dict[str, list[str]] = {}
    for line in result.output.splitlines():
        cells = [c.strip() for c in line.strip().strip("│┃").split("│")]
        if len(cells) == 4 and cells[0]:
            rows[cells[0]] = cells[1:]
    return rows


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_option_has_a_type_and_a_default(recipe: str) -> None:
    rows = table(recipe)
    for field, info in stage_class(recipe).model_fields.items():
        cells = rows[info.alias or field]
        assert cells[0] and cells[1], (field, cells)  # type, default
    for option, kind, default in EXPECTED.get(recipe, []):
        assert rows[option][:2] == [kind, default]
