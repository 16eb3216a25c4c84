"""`mix` checks ids for repeats with 8-byte keys (issue 17: bounded memory at 10M rows):
the same renames as a set of id strings, across chunk boundaries, and the same cut."""

from __future__ import annotations

import random
from array import array
from collections.abc import Iterable, Iterator

import numpy as np
import pytest

from synthmill import mix
from synthmill.records import Record, stable_hash


def held_unique_ids(records: Iterable[Record]) -> Iterator[Record]:
    """The set-of-strings version _unique_ids replaced: the reference."""
    seen: set[str] = set()
    for r in records:
        if r.meta.id in seen:
            m = r.meta.params["mix"]
            r = r.with_meta(id=stable_hash(r.meta.id, m["source"], m["generation"]))
        seen.add(r.meta.id)
        yield r


def row(rid: str, source: str = "a", generation: int = 0) -> Record:
    params = {"mix": {"source": source, "generation": generation}}
    return Record.new({"text": rid}, key=rid, stage="s").with_meta(id=rid, params=params)


def test_repeats_get_derived_ids_as_with_a_set_of_strings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Repeats within and across chunks, a later row whose id an earlier row was renamed
    to, ids that are not 16 hex digits, and hex ids differing only in case."""
    monkeypatch.setattr(mix, "ID_CHUNK", 7)
    rng = random.Random(3)
    ids = [stable_hash(i) for i in range(40)] + ["x", "ünï", "", "ABCDEF0123456789"]
    ids += ["abcdef0123456789", "0x00000000000001", "0000000000000001"]
    rows = [row(rng.choice(ids), rng.choice("ab"), rng.randint(0, 2)) for _ in range(300)]
    first = rows[0]
    m = first.meta.params["mix"]
    derived = stable_hash(first.meta.id, m["source"], m["generation"])
    rows[1] = row(first.meta.id, m["source"], m["generation"])  # renamed to `derived`
    rows[2] = row(derived)  # so this one is renamed too
    got = [r.meta.id for r in mix._unique_ids(rows)]
    want = [r.meta.id for r in held_unique_ids(rows)]
    assert got == want and got[1] == derived and got[2] != derived
    assert len(set(got)) > 45


def test_the_cut_is_the_kth_smallest_rank_then_position() -> None:
    """A selection gives the argsort's k-th (rank, position), ties broken by position."""
    rng = np.random.default_rng(5)
    values = rng.integers(0, 50, size=400).astype(np.uint64)  # many ties
    ranks = array("Q", values.tolist())
    order = np.argsort(values, kind="stable")
    for k in (1, 2, 17, 200, 399):
        i = int(order[k - 1])
        assert mix._cutoff(ranks, k) == (int(values[i]), i)
    assert mix._cutoff(ranks, 400) is None and mix._cutoff(ranks, 0) == (-1, -1)


def test_id_keys_are_exact_for_synthmill_ids() -> None:
    rid = stable_hash("x")
    assert mix.id_key(rid) == int(rid, 16)
    assert mix.id_key(rid.upper()) != mix.id_key(rid)
    assert mix.id_key("0x00000000000001") != mix.id_key("0000000000000001")
