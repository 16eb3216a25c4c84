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

import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq

from synthmill.io.rows import ColumnKinds, arrow_kind

SAFE_TYPES = (pa.string(), pa.int64(), pa.float64(), pa.bool_(), pa.null())
JSON_BLOCK = 16 << 20  # bytes of JSON parsed at once; the schema comes from the first block
PARQUET_BATCH = 65536
STREAM_BUFFER = 1 << 20


def arrow_batches(path: Path, fmt: str) -> Iterator[pa.RecordBatch]:
    """The file's record batches, streamed (JSONL in blocks, Parquet in batches)."""
    if fmt == "jsonl":
        options = pj.ReadOptions(block_size=JSON_BLOCK)
        with pj.open_json(path, read_options=options) as reader:
            yield from reader
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
