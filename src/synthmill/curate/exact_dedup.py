"""`dedup.exact`: drop rows whose normalized text was already seen; the first one stays."""

from __future__ import annotations

import hashlib
import re
import string
import unicodedata
from collections.abc import Iterable, Iterator
from typing import ClassVar

from pydantic import Field

from synthmill.pipeline.stage import GlobalStage, StageContext
from synthmill.records import Record

_PUNCT = str.maketrans("", "", string.punctuation)


class ExactDedup(GlobalStage):
    kind: ClassVar[str] = "dedup.exact"
    columns: list[str] = Field(default=["text"], min_length=1, description="Columns compared.")
    lowercase: bool = True
    collapse_whitespace: bool = True
    strip_punctuation: bool = False

    def reads(self) -> list[str]:
        return list(self.columns)

    def normalize(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text)
        if self.lowercase:
            text = text.lower()
        if self.strip_punctuation:
            text = text.translate(_PUNCT)
        if self.collapse_whitespace:
            text = re.sub(r"\s+", " ", text).strip()
        return text

    def key(self, record: Record) -> bytes:
        parts = [self.normalize(str(record.data.get(c) or "")) for c in self.columns]
        return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).digest()

    def process_all(self, records: Iterable[Record], ctx: StageContext) -> Iterator[Record]:
        seen: dict[bytes, str] = {}
        for record in records:
            key = self.key(record)
            if key in seen:
                yield record.reject(self.label, "exact duplicate", {"duplicate_of": seen[key]})
            else:
                seen[key] = record.meta.id
                yield record
