"""Text normalization, shingles and n-gram hashes shared by dedup and decontamination."""

from __future__ import annotations

import hashlib
import re
import string
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any, Literal

import pyarrow as pa

from synthmill.pipeline.columnar import text_values

_PUNCT = str.maketrans("", "", string.punctuation)
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+")
ShingleKind = Literal["word", "char"]


def normalize(
    text: str, *, lowercase: bool = True, punctuation: bool = True, whitespace: bool = True
) -> str:
    """NFKC, then optionally fold case, drop ASCII punctuation and collapse whitespace."""
    text = unicodedata.normalize("NFKC", text)
    if lowercase:
        text = text.lower()
    if punctuation:
        text = text.translate(_PUNCT)
    if whitespace:
        text = _SPACE.sub(" ", text).strip()
    return text


def words(text: str) -> list[str]:
    """Word tokens (runs of letters, digits and underscores), as used for n-gram indexes."""
    return _WORD.findall(text)


def shingles(text: str, kind: ShingleKind, size: int) -> set[str]:
    """The set of word or character shingles of `text`; short texts give one shingle."""
    if kind == "word":
        toks = text.split()
        if len(toks) <= size:
            return {" ".join(toks)} if toks else set()
        return set(map(" ".join, zip(*(toks[i:] for i in range(size)), strict=False)))
    if len(text) <= size:
        return {text} if text else set()
    return {text[i : i + size] for i in range(len(text) - size + 1)}


def jaccard(a: set[Any], b: set[Any]) -> float:
    """Exact Jaccard similarity of two sets (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def ngram_hash(tokens: Iterable[str]) -> int:
    """A stable 64-bit hash of a token sequence (Python's hash() is salted per process)."""
    blob = "\x1f".join(tokens).encode()
    return int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "little")


def ngrams(tokens: list[str], n: int) -> Iterable[tuple[int, int]]:
    """(start position, hash) of every n-gram of `tokens`."""
    for i in range(len(tokens) - n + 1):
        yield i, ngram_hash(tokens[i : i + n])


def text_of(data: dict[str, Any], columns: list[str]) -> str:
    """The text of a row: the named columns joined by newlines (missing ones are empty)."""
    return "\n".join(str(data.get(c) or "") for c in columns)


def table_texts(table: pa.Table, columns: list[str]) -> Iterator[list[str]]:
    """text_of() for the rows of a table in the shard layout, a slice of rows at a time
    (Python strings for a slice, not for a whole table)."""
    for start in range(0, table.num_rows, TEXT_SLICE):
        part = table.slice(start, TEXT_SLICE)
        texts = text_values(part, columns[0])
        for column in columns[1:]:
            texts = list(map("\n".join, zip(texts, text_values(part, column), strict=True)))
        yield texts


TEXT_SLICE = 8192  # rows whose text table_texts() holds as Python strings at once
