"""`chunk`: split each document into passages of whole sentences, up to a word budget.

Each chunk is a child row of its document (same origin, since no model wrote it), with
`chunk_index`; a sentence longer than the budget is cut at the budget.
"""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field, model_validator

from synthmill.pipeline.stage import Stage, StageContext
from synthmill.records import Record

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def sentences(text: str) -> list[str]:
    """Sentences of a text, split after . ! or ? followed by whitespace."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def chunk_text(text: str, max_words: int, overlap: int = 0) -> list[str]:
    """Passages of whole sentences of at most `max_words` words; `overlap` sentences repeat."""
    pieces = [p for s in sentences(text) for p in _cut(s, max_words)]
    chunks: list[list[str]] = []
    current: list[str] = []
    for piece in pieces:
        if current and _count(current) + len(piece.split()) > max_words:
            chunks.append(current)
            current = current[len(current) - overlap :] if overlap else []
            while current and _count(current) + len(piece.split()) > max_words:
                current = current[1:]
        current.append(piece)
    if current:
        chunks.append(current)
    return [" ".join(c) for c in chunks]


def _cut(sentence: str, max_words: int) -> list[str]:
    tokens = sentence.split()
    return [" ".join(tokens[i : i + max_words]) for i in range(0, len(tokens), max_words)]


def _count(parts: list[str]) -> int:
    return sum(len(p.split()) for p in parts)


class Chunk(Stage):
    kind: ClassVar[str] = "chunk"

    column: str = Field(default="text", description="Column holding the document text.")
    max_words: int = Field(default=120, ge=5, description="Words per chunk at most.")
    overlap: int = Field(default=0, ge=0, description="Sentences repeated between chunks.")
    min_words: int = Field(default=5, ge=0, description="Shorter chunks are dropped.")

    @model_validator(mode="after")
    def _check(self) -> Chunk:
        if self.min_words > self.max_words:
            raise ValueError("min_words must not exceed max_words")
        return self

    def reads(self) -> list[str]:
        return [self.column]

    def writes(self) -> list[str]:
        return [self.column, "chunk_index"]

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        out = []
        for doc in batch:
            text = str(doc.data.get(self.column) or "")
            kept = [
                c
                for c in chunk_text(text, self.max_words, self.overlap)
                if len(c.split()) >= self.min_words
            ]
            if not kept:
                out.append(doc.reject(self.label, "no chunk long enough"))
            for i, part in enumerate(kept):
                data = {**doc.data, self.column: part, "chunk_index": i}
                out.append(doc.child(data, stage=self.label, key=i, origin=doc.meta.origin))
        return out
