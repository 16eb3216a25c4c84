"""`synthmill filter IN --out OUT`: quality rules and language identification on a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import typer

from synthmill.cli.dedup_cmd import ALLOW_EMPTY_HELP, run, show
from synthmill.curate.apply import SRC_HELP, build
from synthmill.curate.language import LanguageFilter
from synthmill.curate.quality import QualityFilter
from synthmill.curate.quality_rules import LANGUAGES
from synthmill.errors import ConfigError
from synthmill.pipeline.stage import Stage


def filter_(
    src: Path = typer.Argument(..., help=SRC_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Output .jsonl or .parquet file."),
    profile: Literal["prose", "code", "math", "none"] = typer.Option(
        "prose", help="Quality rules for prose, code or math; 'none' skips them."
    ),
    thresholds: str = typer.Option(
        "{}", help="Threshold overrides as JSON, e.g. '{\"min_words\": 20}'."
    ),
    language: list[str] = typer.Option(
        [],
        "--language",
        "-l",
        help="Keep only these languages (ISO codes); repeatable. One of en, de, fr, es, zh, ja "
        "alone also sets the quality rules' language (stop words, CJK word segmentation).",
    ),
    min_language_score: float = typer.Option(0.5, help="Least language-id confidence kept."),
    column: list[str] = typer.Option(["text"], "--column", "-c", help="Text column(s) judged."),
    seed: int = typer.Option(0, help="Run seed (stages draw their random numbers from it)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing OUT."),
    allow_empty: bool = typer.Option(False, "--allow-empty", help=ALLOW_EMPTY_HELP),
) -> None:
    """Drop rows failing heuristic quality rules or in unwanted languages."""
    stages: list[Stage] = []
    if language:
        stages.append(
            build(
                LanguageFilter,
                {"columns": column, "languages": language, "min_score": min_language_score},
            )
        )
    if profile != "none":
        try:
            overrides = json.loads(thresholds)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--thresholds is not valid JSON ({exc.msg}); fix it") from None
        options = {"columns": column, "profile": profile, "thresholds": overrides}
        if len(language) == 1 and language[0] in LANGUAGES:  # else the English rules
            options["language"] = language[0]
        stages.append(build(QualityFilter, options))
    if not stages:
        raise ConfigError("nothing to do: give --profile and/or --language")
    show(run(stages, src, out, seed, overwrite, allow_empty))


def register(app: typer.Typer) -> None:
    app.command("filter")(filter_)
