"""JSON text of whole Arrow columns, for the rejects files of the columnar path.

A rejects line is what `json.dumps(line, ensure_ascii=False, default=str)` writes for
`{"stage", "reason", "raw", "row", "_meta"}` (records_io.rejects_writer). Here each part
is a column of JSON text made by Arrow kernels, and a line is their concatenation, so no
Python object is made per row: text, integer, boolean and null columns are encoded by
kernels; values that need escaping (a quote, a backslash, a control character) and
columns of other types (doubles, lists, structs, dates) by json.dumps, value by value.
`_meta`'s params, verdicts and scores are JSON text already and are written as they are
(the row path decodes and re-encodes them: the same values).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthmill.records import META_COLUMN

NEEDS_ESCAPE = r'["\\\x00-\x1f]'  # what json.dumps(ensure_ascii=False) escapes
LINES_AT_ONCE = 65536  # rows per concatenation (32-bit offsets of the text)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def strings(values: pa.Array) -> pa.Array:
    """json.dumps of each value of a text column (null: `null`)."""
    values = values.cast(pa.string()) if not pa.types.is_string(values.type) else values
    out = pc.binary_join_element_wise('"', values, '"', "")
    special = pc.fill_null(pc.match_substring_regex(values, NEEDS_ESCAPE), False)
    if pc.any(special).as_py():
        escaped = [dumps(v) for v in values.filter(special).to_pylist()]
        out = pc.replace_with_mask(out, special, pa.array(escaped, pa.string()))
    return pc.fill_null(out, "null")


def column(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """json.dumps of each value of a column, as the row path gets them (to_pylist)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    kind = values.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return strings(values)
    if pa.types.is_integer(kind):
        return pc.fill_null(values.cast(pa.string()), "null")
    if pa.types.is_boolean(kind):
        return pc.fill_null(pc.if_else(values, "true", "false"), "null")
    if pa.types.is_null(kind):
        return pa.array(["null"] * len(values), pa.string())
    return pa.array([dumps(v) for v in values.to_pylist()], pa.string())


def texts(values: Sequence[str]) -> pa.Array:
    """json.dumps of each of many strings that repeat (reasons): each distinct one once."""
    names = sorted(set(values))
    codes = {name: k for k, name in enumerate(names)}
    index = np.fromiter((codes[v] for v in values), np.int32, len(values))
    encoded = pa.array([dumps(name) for name in names], pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(index), encoded).cast(pa.string())


def objects(values: Sequence[Any]) -> pa.Array | str:
    """json.dumps of each payload (a constant `null` where all are None)."""
    if all(v is None for v in values):
        return "null"
    return pa.array([dumps(v) for v in values], pa.string())


def _meta(meta: pa.StructArray) -> list[pa.Array | str]:
    """The parts of `"_meta": {...}` as the row path writes Meta.to_row(json_fields=False)."""
    parts: list[pa.Array | str] = []
    for name in ("id", "parents", "stage", "origin", "seed", "recipe", "model", "prompt_hash"):
        field = meta.field(name)
        if name == "stage":
            field = pc.fill_null(field, "")
        elif name == "origin":
            field = pc.if_else(pc.fill_null(pc.not_equal(field, ""), False), field, "real")
        if name == "parents":
            value: pa.Array | str = _lists(field)
        else:
            value = column(field)
        parts += [f', "{name}": ' if parts else f'"{name}": ', value]
    for name in ("params", "verdicts", "scores"):
        text = meta.field(name)
        empty = pc.fill_null(pc.equal(text, ""), True)
        parts += [f', "{name}": ', pc.if_else(empty, "{}", text)]
    return parts


def _lists(values: pa.Array) -> pa.Array | str:
    """json.dumps of each list of strings (a null list is [])."""
    if values.null_count == 0 and not pc.max(pc.list_value_length(values)).as_py():
        return "[]"
    return pa.array([dumps(v or []) for v in values.to_pylist()], pa.string())


def reject_text(
    label: str,
    rejected: pa.Table,
    reasons: Sequence[str],
    raws: Sequence[Any] | pa.Array,
) -> list[pa.Buffer]:
    """The rejects-file lines of `rejected` (with its `_meta`), UTF-8, each ending in a
    newline, in buffers to write one after the other; `raws` as Python payloads or a
    column of JSON text."""
    chunks = []
    for start in range(0, rejected.num_rows, LINES_AT_ONCE):
        stop = min(start + LINES_AT_ONCE, rejected.num_rows)
        part = rejected.slice(start, stop - start)
        raw = raws.slice(start, stop - start) if isinstance(raws, pa.Array) else None
        chunks.append(
            _lines(label, part, reasons[start:stop], raw if raw is not None else raws[start:stop])
        )
    return chunks


def _lines(
    label: str, table: pa.Table, reasons: Sequence[str], raws: Sequence[Any] | pa.Array
) -> pa.Buffer:
    raw = raws if isinstance(raws, pa.Array) else objects(raws)
    parts: list[pa.Array | str] = [
        f'{{"stage": {dumps(label)}, "reason": ',
        texts(reasons),
        ', "raw": ',
        raw,
        ', "row": {',
    ]
    data = [c for c in table.column_names if c != META_COLUMN]
    for k, name in enumerate(data):
        parts += [f"{', ' if k else ''}{dumps(name)}: ", column(table.column(name))]
    parts.append(f'}}, "{META_COLUMN}": {{')
    parts += _meta(table.column(META_COLUMN).combine_chunks())
    parts.append("}}\n")
    return _concat(parts, table.num_rows)


def _concat(parts: list[pa.Array | str], n: int) -> pa.Buffer:
    """The parts joined row by row, all rows one after the other."""
    if n == 0:
        return pa.py_buffer(b"")
    arrays = [p for p in parts if not isinstance(p, str)]
    if not arrays:  # no column: every line is the same text
        return pa.py_buffer("".join(p for p in parts if isinstance(p, str)).encode() * n)
    lines = pc.binary_join_element_wise(*parts, "")
    offsets = np.frombuffer(lines.buffers()[1], np.int32)[lines.offset : lines.offset + n + 1]
    return lines.buffers()[2][int(offsets[0]) : int(offsets[-1])]
