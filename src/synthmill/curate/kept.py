"""How a removed duplicate names the row that was kept, shared by the dedup stages."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from synthmill.pipeline import table_json
from synthmill.pipeline.columnar import TableResult
from synthmill.records import META_COLUMN, Record

KeptRef = tuple[Any, str]  # (the name duplicate_of shows, the kept record's id)


def id_reads(id_column: str | None, fields_set: set[str]) -> list[str]:
    """The id column as a declared read when the user named it: a misspelt `id_column`
    stops the run, while the default (`id`) is used only where rows have it."""
    return [id_column] if id_column and "id_column" in fields_set else []


def kept_ref(record: Record, id_column: str | None) -> KeptRef:
    """The value of the user's id column when the row has one (else the record's id),
    and the record's id."""
    if id_column:
        value = record.data.get(id_column)
        if value is not None and value != "":
            return value, record.meta.id
    return record.meta.id, record.meta.id


def payload(ref: KeptRef, **extra: Any) -> dict[str, Any]:
    """The raw part of a duplicate's rejection: which row it duplicates, and how closely."""
    return {"duplicate_of": ref[0], "kept_id": ref[1], **extra}


def mark(
    records: Iterable[Record],
    removed: npt.NDArray[np.int64],
    kept: npt.NDArray[np.int64],
    *,
    label: str,
    reason: str,
    id_column: str | None,
    similarity: npt.NDArray[np.float64] | None = None,
) -> Iterator[Record]:
    """Stream the rows again, rejecting row removed[k] (ascending) as a copy of kept[k].

    Only the kept rows that some duplicate names are remembered (their name and id).
    """
    reps = set(kept.tolist())
    refs: dict[int, KeptRef] = {}
    gone, rep = removed.tolist(), kept.tolist()
    p = 0
    for i, record in enumerate(records):
        if i in reps:
            refs[i] = kept_ref(record, id_column)
        if p < len(gone) and gone[p] == i:
            extra: dict[str, Any] = {"kept_index": rep[p]}
            if similarity is not None:
                extra["similarity"] = round(float(similarity[p]), 4)
            yield record.reject(label, reason, payload(refs[rep[p]], **extra))
            p += 1
        else:
            yield record


def mark_tables(
    tables: Iterable[pa.Table],
    removed: npt.NDArray[np.int64],
    kept: npt.NDArray[np.int64],
    *,
    reason: str,
    id_column: str | None,
    similarity: npt.NDArray[np.float64] | None = None,
) -> Iterator[TableResult]:
    """mark() on tables: each table's rows split into kept and removed ones, the removed
    ones with the payload mark() gives them (as JSON text, made without a dict per row)."""
    reps = np.unique(kept)
    refs: dict[int, str] = {}  # kept row -> its payload's head: duplicate_of and kept_id
    offset = 0
    for table in tables:
        n = table.num_rows
        lo, hi = np.searchsorted(reps, [offset, offset + n])
        refs.update(_table_refs(table, reps[lo:hi] - offset, offset, id_column))
        lo, hi = np.searchsorted(removed, [offset, offset + n])
        gone = removed[lo:hi] - offset
        keep = np.ones(n, dtype=bool)
        keep[gone] = False
        rep = kept[lo:hi].tolist()
        if similarity is None:
            raws = [f'{{{refs[r]}, "kept_index": {r}}}' for r in rep]
        else:
            sims = [json.dumps(round(s, 4)) for s in similarity[lo:hi].tolist()]
            raws = [
                f'{{{refs[r]}, "kept_index": {r}, "similarity": {s}}}'
                for r, s in zip(rep, sims, strict=True)
            ]
        yield TableResult(
            table.filter(pa.array(keep)),
            table.take(pa.array(gone, pa.int64())),
            [reason] * len(raws),
            raw_json=pa.array(raws, pa.string()),
        )
        offset += n


def _table_refs(
    table: pa.Table, rows: npt.NDArray[np.int64], offset: int, id_column: str | None
) -> dict[int, str]:
    """The payload head of the given rows of a table (kept_ref() as JSON text:
    `"duplicate_of": ..., "kept_id": ...`), keyed by row index in the whole input."""
    if len(rows) == 0:
        return {}
    picked = table.take(pa.array(rows, pa.int64()))
    ids = table_json.strings(pc.struct_field(picked.column(META_COLUMN), "id").combine_chunks())
    names = ids
    if id_column and id_column in table.column_names:
        values = picked.column(id_column).combine_chunks()
        usable = values.is_valid()
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            usable = pc.and_(usable, pc.fill_null(pc.not_equal(values, ""), False))
        names = pc.if_else(usable, table_json.column(values), ids)
    heads = pc.binary_join_element_wise('"duplicate_of": ', names, ', "kept_id": ', ids, "")
    return dict(zip((rows + offset).tolist(), heads.to_pylist(), strict=True))
