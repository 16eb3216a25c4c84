"""The dataset card, part by part, from hand-made stats: each line says what the README's
"Run directory" paragraph promises (issue 19: mutants of card.py survived the suite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from synthmill import Pipeline
from synthmill.card import render_card, size_category, synthetic_share

VERSIONS = {"synthmill": "9.9.9", "pyarrow": "1.2.3"}
RUN = {"attempts": [{"versions": {"python": "3.0"}}, {"versions": VERSIONS}]}


def pipeline(tmp_path: Path, fmt: str = "parquet", **extra: Any) -> Pipeline:
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "a b c"}\n')
    config = {
        "name": "tiny-card",
        "seed": 3,
        "stages": [
            {"use": "read", "path": str(src)},
            {"use": "filter.length", "min_words": 2},
            {"use": "dedup.exact"},
        ],
        "output": {"dir": str(tmp_path / "out"), "format": fmt},
        **extra,
    }
    return Pipeline.from_config(config)


def stage(
    rows_in: int, rows_out: int, rejected: dict[str, int] | None = None, **kw: Any
) -> dict[str, Any]:
    rejected = rejected or {}
    return {
        "rows_in": rows_in,
        "rows_out": rows_out,
        "rejected": rejected,
        "rejected_total": sum(rejected.values()),
        "rejected_transient": kw.pop("transient", 0),
        "seconds": kw.pop("seconds", 0.0),
        "batches": 1,
        "counters": kw.pop("counters", {}),
        **kw,
    }


def stats(**over: Any) -> dict[str, Any]:
    base = {
        "name": "tiny-card",
        "rows": 8,
        "origin": {"real": 6, "synthetic": 2},
        "models": {"None": 6, "teacher-7b": 2},
        "stages": {
            "read": stage(10, 10, seconds=0.25),
            "filter.length": stage(10, 9, {"too short": 1}, seconds=1.5),
            "dedup.exact": stage(9, 8, {"exact duplicate": 1}),
        },
    }
    return {**base, **over}


def section(card: str, title: str) -> str:
    return card.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize(
    ("rows", "label"),
    [(0, "n<1K"), (999, "n<1K"), (1000, "1K<n<10K"), (9999, "1K<n<10K"),
     (10_000, "10K<n<100K"), (99_999, "10K<n<100K"), (100_000, "100K<n<1M"),
     (999_999, "100K<n<1M"), (1_000_000, "1M<n<10M"), (9_999_999, "1M<n<10M"),
     (10_000_000, "n>10M")],
)  # fmt: skip
def test_size_categories_are_hugging_faces(rows: int, label: str) -> None:
    assert size_category(rows) == label


def test_synthetic_share() -> None:
    assert synthetic_share({}) == 0.0  # an empty dataset is not synthetic
    assert synthetic_share({"real": 3}) == 0.0
    assert synthetic_share({"synthetic": 4}) == 1.0
    assert synthetic_share({"real": 3, "synthetic": 1}) == 0.25


def test_front_matter_and_headline(tmp_path: Path) -> None:
    card = render_card(pipeline(tmp_path, "jsonl"), stats(), RUN)
    assert card.startswith("---\n")
    head = yaml.safe_load(card.split("---\n")[1])
    assert head == {
        "pretty_name": "tiny-card",
        "size_categories": ["n<1K"],
        "tags": ["synthetic", "synthmill"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": "train", "path": "data/train-*.jsonl"}],
            }
        ],
    }
    assert "\n# tiny-card\n" in card
    assert (
        "8 rows, **25.0% synthetic** (real: 6, synthetic: 2). Made with synthmill 9.9.9 "
        "from seed 3. Kept 8 of the 10 rows the source made (80%).\n"
    ) in card  # the versions of the last attempt
    order = [card.index(f"## {t}\n") for t in
             ("How it was made", "What the filters removed, and why", "Models", "Provenance",
              "Reproduce", "Load")]  # fmt: skip
    assert order == sorted(order)


def test_one_stage_pipeline_says_nothing_about_kept(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "x"}\n')
    config = {"stages": [{"use": "read", "path": str(src)}], "output": {"dir": str(tmp_path)}}
    one = Pipeline.from_config(config)
    card = render_card(one, stats(rows=1, stages={"read": stage(1, 1)}), RUN)
    assert "Kept" not in card and "1 rows, **25.0% synthetic**" in card


def test_stage_table(tmp_path: Path) -> None:
    table = section(render_card(pipeline(tmp_path), stats(), RUN), "How it was made")
    lines = table.strip().splitlines()
    assert lines[0] == "| stage | kind | options | rows in | rows out | rejected | seconds |"
    assert lines[1] == "|---|---|---|---:|---:|---:|---:|"
    assert lines[3] == "| filter.length | filter.length | `{min_words: 2}` | 10 | 9 | 1 | 1.50 |"
    assert lines[4] == "| dedup.exact | dedup.exact | `{}` | 9 | 8 | 1 | 0.00 |"
    assert lines[2].startswith("| read | read | `{path: ") and lines[2].endswith(
        "| 10 | 10 | 0 | 0.25 |"
    )
    assert len(lines) == 5


def test_options_stay_on_one_line_escaped_and_short(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "x"}\n')
    expr = "{{ 'a|b' in text\n or text == '" + "x" * 300 + "' }}"
    config = {
        "stages": [{"use": "read", "path": str(src)}, {"use": "filter.expression", "expr": expr}],
        "output": {"dir": str(tmp_path)},
    }
    card = render_card(Pipeline.from_config(config), stats(rows=1, stages={}), RUN)
    row = next(x for x in card.splitlines() if x.startswith("| filter.expression |"))
    options = row.split("`")[1]
    assert "a\\|b" in options and "\\n" in options and "\n" not in options
    assert len(options) == 160 and options.endswith("...")
    assert "| 0 | 0 | 0 | 0.00 |" in row  # a stage without stats


def test_rejects_section(tmp_path: Path) -> None:
    s = stats()
    s["stages"]["dedup.exact"] = stage(9, 8, {"exact duplicate": 1, "near": 2}, transient=2)
    text = section(render_card(pipeline(tmp_path), s, RUN), "What the filters removed, and why")
    assert text.strip().splitlines() == [
        "- **filter.length** removed 1 rows: too short",
        "- **dedup.exact** removed 1 rows: exact duplicate",
        "- **dedup.exact** removed 2 rows: near",
        "- **dedup.exact**: 2 of these failed for transient reasons (a model call failed); "
        "running the same command again retries them",
    ]
    clean = stats(stages={k: stage(10, 10) for k in ("read", "filter.length", "dedup.exact")})
    none = section(render_card(pipeline(tmp_path), clean, RUN), "What the filters removed, and why")
    assert none.strip() == "No rows were removed."


def test_summaries_as_a_table_or_bullets(tmp_path: Path) -> None:
    s = stats()
    s["stages"]["filter.length"]["summary"] = {
        "arithmetic": {"pass@1": 0.5, "problems": 4},
        "algebra": {"pass@1": 0.25},
    }
    s["stages"]["dedup.exact"]["summary"] = {"warning 1": "two columns", "n": 3}
    card = render_card(pipeline(tmp_path), s, RUN)
    table = section(card, "filter.length: summary").strip().splitlines()
    assert table == [
        "|  | pass@1 | problems |",
        "|---|---|---|",
        "| arithmetic | 0.5 | 4 |",
        "| algebra | 0.25 |  |",
    ]
    assert section(card, "dedup.exact: summary").strip().splitlines() == [
        "- warning 1: two columns",
        "- n: 3",
    ]


def test_models_section(tmp_path: Path) -> None:
    s = stats()
    s["stages"]["filter.length"]["counters"] = {"llm.calls": 4, "llm.cache_hits": 1}
    p = pipeline(tmp_path, backend={"type": "fake", "model": "teacher|7b"})
    text = section(render_card(p, s, RUN), "Models").strip().splitlines()
    assert text[0] == "- `teacher-7b`: 2 rows"  # rows of no model ("None") are not listed
    assert text[1] == "- stage **filter.length** counters: llm.calls: 4, llm.cache_hits: 1"
    assert text[2].startswith("- default backend: `{") and "teacher\\|7b" in text[2]
    bare = stats(models={"None": 8})
    none = section(render_card(pipeline(tmp_path), bare, RUN), "Models")
    assert none.strip() == "No model wrote any row of this dataset."


def test_server_traffic_section(tmp_path: Path) -> None:
    s = stats()
    counters = {"llm.calls": 6, "llm.requests": 9, "llm.status_429": 2, "llm.retries": 3,
                "llm.wire_ms": 5000}  # fmt: skip
    s["stages"]["filter.length"] = stage(10, 9, {"too short": 1}, seconds=2.0, counters=counters)
    s["stages"]["dedup.exact"] = stage(9, 8, counters={"llm.requests": 2})  # no time measured
    card = render_card(pipeline(tmp_path), s, RUN)
    lines = section(card, "Model server traffic").strip().splitlines()
    assert lines[0].startswith("| stage | calls | HTTP requests | answered 429 | retries |")
    assert lines[2] == "| filter.length | 6 | 9 | 2 | 3 | 2.5 |"  # 5 s in flight / 2 s wall
    assert lines[3] == "| dedup.exact | 0 | 2 | 0 | 0 | 0.0 |"
    assert len(lines) == 4
    assert "Model server traffic" not in render_card(pipeline(tmp_path), stats(), RUN)


@pytest.mark.parametrize(("fmt", "builder"), [("parquet", "parquet"), ("jsonl", "json")])
def test_reproduce_and_load(tmp_path: Path, fmt: str, builder: str) -> None:
    p = pipeline(tmp_path, fmt)
    card = render_card(p, stats(), RUN)
    assert "```yaml\n" + p.to_yaml() + "```\n" in section(card, "Reproduce")
    assert "Environment: synthmill: 9.9.9, pyarrow: 1.2.3.\n" in card
    load = section(card, "Load")
    assert "from datasets import load_dataset\n" in load
    assert f'ds = load_dataset("{builder}", data_files="data/train-*.{fmt}", split="train")' in load
    provenance = section(card, "Provenance")
    assert "`_meta` column" in provenance
    assert provenance.endswith(
        "Rejected rows, with the reason and the raw output, are in `rejects/` of the run "
        "directory.\n"
    )


def test_markdown_table_aligns_right_by_index() -> None:
    from synthmill.card import markdown_table

    assert markdown_table(["", "n", "x"], [["a", 1, ""]], right={1}) == [
        "|  | n | x |",
        "|---|---:|---|",
        "| a | 1 |  |",
    ]


def test_replace_section_replaces_its_own_section_and_keeps_the_rest(tmp_path: Path) -> None:
    from synthmill.card import replace_section

    card = tmp_path / "README.md"
    card.write_text("# Card\n\n<!-- a -->\nold\n<!-- /a -->\n\ntail\n", encoding="utf-8")
    replace_section(card, "<!-- a -->\nnew\n<!-- /a -->\n", "<!-- a -->", "<!-- /a -->")
    assert card.read_text(encoding="utf-8") == "# Card\n\n<!-- a -->\nnew\n<!-- /a -->\ntail\n"
    replace_section(card, "<!-- b -->\nB\n<!-- /b -->\n", "<!-- b -->", "<!-- /b -->")
    assert card.read_text(encoding="utf-8").endswith("tail\n\n<!-- b -->\nB\n<!-- /b -->\n")
