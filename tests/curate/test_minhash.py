"""MinHash dedup against planted near-duplicates and against datasketch's decisions."""

from __future__ import annotations

import numpy as np
import pytest

from synthmill.curate import minhash as mh
from synthmill.curate.minhash_dedup import MinHashDedup
from synthmill.curate.planted import corpus
from synthmill.curate.text import normalize, shingles
from synthmill.pipeline.stage import StageContext
from synthmill.records import Record

THRESHOLD = 0.8
TARGETS = [0.97, 0.92, 0.88, 0.7, 0.5, 0.3]


@pytest.fixture(scope="module")
def planted() -> tuple[list[Record], list]:
    docs, planted = corpus(3000, TARGETS, 600, seed=11)
    records = [Record.new({"text": t}, key=i, stage="read") for i, t in enumerate(docs)]
    return records, planted


def run(stage: MinHashDedup, records: list[Record]) -> dict[int, dict]:
    out = list(stage.process_all(records, StageContext(0, stage.label)))
    assert [r.meta.id for r in out] == [r.meta.id for r in records]
    return {i: r.meta.rejection.raw for i, r in enumerate(out) if r.rejected}


def datasketch_removed(records: list[Record]) -> set[int]:
    """Streaming keep-first dedup with datasketch's MinHash + MinHashLSH, same shingles."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=128)
    kept: dict[str, MinHash] = {}
    removed = set()
    for i, r in enumerate(records):
        m = MinHash(num_perm=128, seed=1)
        toks = shingles(normalize(r.data["text"]), "word", 5)
        m.update_batch([t.encode() for t in toks])
        if any(kept[k].jaccard(m) >= THRESHOLD for k in lsh.query(m)):
            removed.add(i)
        else:
            lsh.insert(str(i), m)
            kept[str(i)] = m
    return removed


def test_lsh_params_match_datasketch() -> None:
    from datasketch.lsh import _optimal_param

    for threshold in (0.5, 0.8, 0.9):
        assert mh.lsh_params(threshold, 128) == _optimal_param(threshold, 128, 0.5, 0.5)


@pytest.mark.parametrize("confirm", ["estimate", "exact"])
def test_recall_and_precision_on_planted(planted: tuple, confirm: str) -> None:
    records, plants = planted
    removed = run(MinHashDedup(threshold=THRESHOLD, confirm=confirm), records)
    clear_dups = [p for p in plants if p.jaccard >= THRESHOLD + 0.1]
    clear_non = [p for p in plants if p.jaccard <= THRESHOLD - 0.15]
    recall = np.mean([p.copy in removed for p in clear_dups])
    false_pos = np.mean([p.copy in removed for p in clear_non])
    assert recall >= 0.95
    assert false_pos <= 0.01
    planted_copies = {p.copy for p in plants}
    assert set(removed) <= planted_copies  # unrelated base documents are never removed
    for p in clear_dups:
        if p.copy in removed:
            raw = removed[p.copy]
            assert raw["duplicate_of"] == records[p.original].meta.id
            assert raw["kept_index"] == p.original


@pytest.mark.slow
def test_decisions_agree_with_datasketch(planted: tuple) -> None:
    records, plants = planted
    ours = set(run(MinHashDedup(threshold=THRESHOLD), records))
    theirs = datasketch_removed(records)
    for lo, hi in [(0.0, 0.75), (0.85, 0.9), (0.9, 0.95), (0.95, 1.01)]:
        copies = [p.copy for p in plants if lo <= p.jaccard < hi]
        ours_rate = np.mean([c in ours for c in copies])
        theirs_rate = np.mean([c in theirs for c in copies])
        assert abs(ours_rate - theirs_rate) <= 0.1, (lo, hi, ours_rate, theirs_rate)
    near = {p.copy for p in plants if 0.75 < p.jaccard < 0.95}
    assert (ours ^ theirs) <= near  # both are random only near the threshold


def test_clusters_keep_first_and_name_it() -> None:
    base = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu"
    texts = [base, "unrelated words entirely here now", base + "!", base.upper(), ""]
    records = [Record.new({"text": t}, key=i, stage="read") for i, t in enumerate(texts)]
    removed = run(MinHashDedup(shingle="char", shingle_size=4), records)
    assert set(removed) == {2, 3}
    assert {r["duplicate_of"] for r in removed.values()} == {records[0].meta.id}


def test_signatures_spill_to_workdir_and_iterator_input(tmp_path) -> None:
    records = [
        Record.new({"text": f"doc number {i % 5} of a set"}, key=i, stage="r") for i in range(20)
    ]
    stage = MinHashDedup(workdir=str(tmp_path), chunk_rows=3, shingle_size=2)
    out = list(stage.process_all(iter(records), StageContext(0, "d")))
    assert sum(not r.rejected for r in out) == 5
    assert list(tmp_path.iterdir()) == []  # the spill file is removed afterwards


def test_union_find_roots_are_smallest() -> None:
    assert mh.resolve([(3, 5), (5, 9), (1, 9), (7, 8)]) == {3: 1, 5: 1, 9: 1, 8: 7}
