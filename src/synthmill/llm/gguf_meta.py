"""Read one string from a GGUF file's metadata (e.g. tokenizer.chat_template) without
loading the model: the header's key-value pairs are walked, tensors never touched.

GGUF v2/v3 layout (little-endian): magic "GGUF", u32 version, u64 tensor count, u64
key-value count, then per pair: a string key, a u32 value type, the value. Strings are a
u64 length and UTF-8 bytes; arrays are a u32 element type, a u64 count and the elements.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

STRING, ARRAY = 8, 9
# value type -> size in bytes of the fixed-size types
FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def _u32(f: BinaryIO) -> int:
    return int(struct.unpack("<I", f.read(4))[0])


def _u64(f: BinaryIO) -> int:
    return int(struct.unpack("<Q", f.read(8))[0])


def _string(f: BinaryIO) -> str:
    return f.read(_u64(f)).decode("utf-8", errors="replace")


def _skip(f: BinaryIO, kind: int) -> None:
    if kind in FIXED:
        f.seek(FIXED[kind], 1)
    elif kind == STRING:
        f.seek(_u64(f), 1)
    elif kind == ARRAY:
        inner, count = _u32(f), _u64(f)
        if inner in FIXED:
            f.seek(FIXED[inner] * count, 1)
        else:
            for _ in range(count):
                _skip(f, inner)
    else:
        raise ValueError(f"unknown GGUF value type {kind}")


def metadata_string(path: str | Path, key: str) -> str | None:
    """The string stored under `key` in the GGUF file's metadata; None when absent."""
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file")
        if _u32(f) < 2:
            raise ValueError(f"{path}: GGUF version 1 is not supported")
        _u64(f)  # tensor count
        for _ in range(_u64(f)):
            name, kind = _string(f), _u32(f)
            if name == key and kind == STRING:
                return _string(f)
            _skip(f, kind)
    return None
