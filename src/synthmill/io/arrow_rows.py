"""Whole-column reads of JSONL and Parquet for the columnar path (pyarrow, no row objects).

A file is read this way only when pyarrow gives the columns the row path would give:
flat columns of text, 64-bit integers, doubles (Parquet only: in JSON a double may hide an
integer Python reads as too large), booleans or nulls. Anything else (nested
objects, timestamps pyarrow would parse out of strings, a type that changes between
blocks, invalid JSON or UTF-8, a byte-order mark) returns None from `arrow_scan`, and the file is
read row by row, where errors name their line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq

from synthmill.io.rows import ColumnKinds, arrow_kind

SAFE_TYPES = (pa.string(), pa.int64(), pa.float64(), pa.bool_(), pa.null())
JSON_BLOCK = 4 << 20  # bytes of JSON parsed at once; the schema comes from the first block
JSON_THREAD_BLOCK = 1 << 20  # a block's part parsed by one thread (longer lines: one part)
PARQUET_BATCH = 65536
STREAM_BUFFER = 1 << 20


def arrow_batches(path: Path, fmt: str) -> Iterator[pa.RecordBatch]:
    """The file's record batches, streamed (JSONL in blocks, Parquet in batches)."""
    if fmt == "jsonl":
        yield from json_batches(path)
    elif fmt == "parquet":
        pf = pq.ParquetFile(path, pre_buffer=False, buffer_size=STREAM_BUFFER)
        yield from pf.iter_batches(batch_size=PARQUET_BATCH)
    else:
        raise ValueError(f"no columnar reader for {fmt!r}")


def arrow_scan(path: Path, fmt: str, kinds: ColumnKinds, limit: int | None = None) -> int | None:
    """Rows in the file (at most `limit`) when pyarrow reads it as the row path would,
    with the column kinds noted in `kinds`; None when the file must go row by row."""
    if fmt not in ("jsonl", "parquet"):
        return None
    n = 0
    schema: pa.Schema | None = None
    try:
        for batch in arrow_batches(path, fmt):
            schema = batch.schema
            if any(f.type not in SAFE_TYPES for f in schema):
                return None
            if fmt == "jsonl" and any(f.type == pa.float64() for f in schema):
                return None  # a double may hide an integer too large for 64 bits
            batch.validate(full=True)  # pyarrow's JSON reader lets bytes that are not UTF-8 in
            n += batch.num_rows
            if limit is not None and n >= limit:
                n = limit
                break
    except (pa.ArrowException, OSError, ValueError):
        return None
    if schema is None or n == 0:
        return None
    for field in schema:
        if field.type != pa.null():
            kinds.add(field.name, arrow_kind(field.type), str(path))
    return n


def json_batches(path: Path) -> Iterator[pa.RecordBatch]:
    """A JSONL file as record batches of about JSON_BLOCK bytes of lines each, read one
    block at a time (pyarrow's streaming reader reads up to 32 blocks ahead: 512 MiB).

    As in that reader, the first block decides the columns and their types, and a later
    block with another field or type is an error.
    """
    schema: pa.Schema | None = None
    for block in _line_blocks(path):
        parse = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
        if schema is None:
            parse = pj.ParseOptions()
        try:
            table = _parse(block, parse, JSON_THREAD_BLOCK)
        except pa.ArrowInvalid as exc:
            if "straddl" not in str(exc):
                raise
            table = _parse(block, parse, len(block) + 1)  # a line longer than a part
        if schema is None:
            schema = table.schema
        yield from table.combine_chunks().to_batches()


def _parse(block: pa.Buffer, parse: pj.ParseOptions, part: int) -> pa.Table:
    options = pj.ReadOptions(block_size=part)
    return pj.read_json(pa.BufferReader(block), read_options=options, parse_options=parse)


def _line_blocks(path: Path) -> Iterator[pa.Buffer]:
    """The file's bytes in blocks of about JSON_BLOCK, each cut after a newline (a line
    longer than a block makes its block longer). Arrow buffers: big Python bytes objects
    would stay in the C heap after they are freed."""
    with pa.OSFile(str(path)) as fh:
        size, start, want = fh.size(), 0, JSON_BLOCK
        while start < size:
            fh.seek(start)
            block = fh.read_buffer(min(want, size - start))
            if start + block.size == size:
                yield block
                return
            cut = _after_last_newline(block)
            if cut == 0:  # no line ends in this block: read a longer one
                want *= 2
                continue
            yield block.slice(0, cut)
            start, want = start + cut, JSON_BLOCK


def _after_last_newline(block: pa.Buffer, window: int = 1 << 16) -> int:
    """The offset just past the block's last newline (0: it has none)."""
    data = np.frombuffer(block, np.uint8)
    end = len(data)
    while end > 0:
        found = np.flatnonzero(data[max(0, end - window) : end] == 10)
        if len(found):
            return max(0, end - window) + int(found[-1]) + 1
        end -= window
    return 0
