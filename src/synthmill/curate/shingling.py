"""Shingle hashes of many texts at once, in numpy: no Python object per word or shingle.

A batch of texts is joined into one string (NUL between texts), normalized with a few
C-level string calls (NFKC, lower case, ASCII punctuation dropped), encoded once and then
cut into words (UTF-8 bytes between whitespace) or characters (code points) by array
operations. Each word is hashed 8 bytes at a time; each shingle hash mixes the hashes of
its `size` consecutive tokens. The shingle sets are the same as `text.shingles` after
`text.normalize` (a text of `size` tokens or fewer is one shingle); the hashes are 64-bit,
so two different shingles collide with probability about 2**-64.
"""

from __future__ import annotations

import string
import unicodedata

import numpy as np
import numpy.typing as npt

from synthmill.curate.spill import ragged_index
from synthmill.curate.text import ShingleKind

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

_PUNCT = str.maketrans("", "", string.punctuation)
_PUNCT_BYTES = string.punctuation.encode()
# Whitespace that str.split() knows and NFKC leaves in place, mapped to a plain space.
_UNICODE_SPACE = str.maketrans(dict.fromkeys([0x85, 0x1680, 0x2028, 0x2029], " "))
_WS_BYTE = np.zeros(256, dtype=bool)
_WS_BYTE[[0, 9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True  # NUL separates texts
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_BYTE_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)


def mix(x: U64) -> U64:
    """splitmix64's finalizer: a bijection of 64-bit values with full avalanche."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def _joined(texts: list[str]) -> str:
    """The texts joined by NUL, with a NUL at each end (NULs inside texts become spaces)."""
    if any("\x00" in t for t in texts):
        texts = [t.replace("\x00", " ") for t in texts]
    return "\x00" + "\x00".join(texts) + "\x00"


def prepare(texts: list[str], *, lowercase: bool = True, punctuation: bool = True) -> str:
    """The joined texts, normalized as `text.normalize` (whitespace left as it is)."""
    joined = _joined(texts)
    if not joined.isascii():
        joined = unicodedata.normalize("NFKC", joined).translate(_UNICODE_SPACE)
    if lowercase:
        joined = joined.lower()
    return joined.translate(_PUNCT) if punctuation else joined


def prepare_utf8(texts: list[str], *, lowercase: bool = True, punctuation: bool = True) -> bytes:
    """`prepare` as UTF-8 bytes, doing the ASCII work on bytes (ASCII punctuation bytes
    never occur inside a multi-byte UTF-8 sequence, so deleting them there is safe)."""
    joined = _joined(texts)
    if joined.isascii():
        raw = joined.encode("ascii")
        raw = raw.lower() if lowercase else raw
    else:
        joined = unicodedata.normalize("NFKC", joined).translate(_UNICODE_SPACE)
        raw = (joined.lower() if lowercase else joined).encode()
    return raw.translate(None, _PUNCT_BYTES) if punctuation else raw


def word_hashes(raw: bytes) -> tuple[U64, I64]:
    """(hash of every word, words per text) for bytes made by `prepare_utf8`."""
    n = len(raw)
    buf = np.frombuffer(raw + b"\x00" * 8, dtype=np.uint8)
    ws = _WS_BYTE[buf[:n]]
    starts = np.flatnonzero(ws[:-1] > ws[1:]) + 1
    ends = np.flatnonzero(ws[1:] > ws[:-1]) + 1
    bounds = np.searchsorted(starts, np.flatnonzero(buf[:n] == 0))
    return _hash_spans(buf, n, starts, ends - starts), np.diff(bounds).astype(np.int64)


def _hash_spans(buf: npt.NDArray[np.uint8], n: int, starts: I64, lens: I64) -> U64:
    """A 64-bit hash of each byte span, read 8 bytes at a time (unaligned loads)."""
    windows = np.ndarray(shape=(n,), dtype="<u8", buffer=buf, offset=0, strides=(1,))
    with np.errstate(over="ignore"):
        h = mix(_masked(windows[starts], lens) ^ (lens.astype(np.uint64) << np.uint64(56)))
        longer = np.flatnonzero(lens > 8)
        offset = 8
        while len(longer):
            chunk = _masked(windows[starts[longer] + offset], lens[longer] - offset)
            h[longer] = mix(h[longer] + _GOLD) ^ chunk
            offset += 8
            longer = longer[lens[longer] > offset]
    return mix(h)


def _masked(values: U64, remaining: I64) -> U64:
    """Keep the first min(remaining, 8) bytes of each little-endian 8-byte load."""
    return values & _BYTE_MASKS[np.minimum(remaining, 8)]


def char_hashes(joined: str) -> tuple[U64, I64]:
    """(hash of every character, characters per text), whitespace collapsed and stripped."""
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).copy()
    small = cps < 256
    is_ws = np.zeros(len(cps), dtype=bool)
    is_ws[small] = _WS_BYTE[cps[small]] & (cps[small] != 0)
    cps[is_ws] = 32
    sep_or_space = is_ws | (cps == 0)
    drop = is_ws & np.concatenate(([True], sep_or_space[:-1]))  # runs and leading spaces
    cps = cps[~drop]
    drop = (cps == 32) & np.concatenate(((cps == 0)[1:], [True]))  # one trailing space
    cps = cps[~drop]
    seps = np.flatnonzero(cps == 0)
    counts = np.diff(seps) - 1
    return mix(np.delete(cps, seps).astype(np.uint64) + _GOLD), counts.astype(np.int64)


def shingle_hashes(
    texts: list[str],
    kind: ShingleKind,
    size: int,
    *,
    lowercase: bool = True,
    punctuation: bool = True,
) -> tuple[U64, I64]:
    """Flat shingle hashes of all texts and row offsets (text i owns [off[i], off[i+1]))."""
    if kind == "word":
        raw = prepare_utf8(texts, lowercase=lowercase, punctuation=punctuation)
        tokens, counts = word_hashes(raw)
    else:
        tokens, counts = char_hashes(prepare(texts, lowercase=lowercase, punctuation=punctuation))
    return windows(tokens, counts, size)


def windows(tokens: U64, counts: I64, size: int) -> tuple[U64, I64]:
    """Hash every run of `size` consecutive tokens of a text (the whole text if shorter)."""
    first = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    out_counts = np.where(counts > 0, np.maximum(counts - size + 1, 1), 0).astype(np.int64)
    starts = ragged_index(first, out_counts)
    padded = np.concatenate((tokens, np.zeros(size, dtype=np.uint64)))
    h = np.zeros(len(starts), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(size):
            h = (h ^ padded[starts + j]) * (_GOLD + np.uint64(2 * j))
        short = np.flatnonzero((counts > 0) & (counts < size))
        if len(short):  # a text shorter than a shingle is one shingle of all its tokens
            h[np.searchsorted(starts, first[short])] = _short(
                padded, first[short], counts[short], size
            )
    offsets = np.concatenate(([0], np.cumsum(out_counts))).astype(np.int64)
    return mix(h), offsets


def _short(padded: U64, first: I64, counts: I64, size: int) -> U64:
    h = np.zeros(len(first), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(size):
            part = np.where(j < counts, padded[first + j], np.uint64(0))
            h = (h ^ part) * (_GOLD + np.uint64(2 * j))
    return h
