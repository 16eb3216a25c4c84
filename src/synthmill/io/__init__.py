"""Reading and writing records: Parquet (native), JSONL, CSV and plain text."""

from synthmill.io.atomic import atomic_path, write_text_atomic
from synthmill.io.records_io import read_records, records_to_table, write_records
from synthmill.io.rows import read_rows, sniff_format

__all__ = [
    "atomic_path",
    "read_records",
    "read_rows",
    "records_to_table",
    "sniff_format",
    "write_records",
    "write_text_atomic",
]
