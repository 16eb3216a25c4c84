"""Property tests of deduplication (Hypothesis): one kept row per duplicate cluster, the
first in input order, and every removed row names that kept row (not another copy)."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from synthmill.curate.exact_dedup import ExactDedup
from synthmill.curate.minhash_dedup import MinHashDedup
from synthmill.pipeline.stage import StageContext
from synthmill.records import Record

SETTINGS = settings(max_examples=60, deadline=None)
BASES = ["the cat sat", "a dog ran home", "Rivers flow to the sea", "x", "", "ÅNGSTRÖM unit"]


@st.composite
def variant(draw: st.DrawFn) -> str:
    """One of a few texts, with case and whitespace changes that exact dedup folds."""
    text = draw(st.sampled_from(BASES))
    if draw(st.booleans()):
        text = text.upper() if draw(st.booleans()) else text.lower()
    pad = draw(st.sampled_from(["", " ", "  ", "\t", "\n"]))
    return pad + text.replace(" ", draw(st.sampled_from([" ", "  ", "\t"]))) + pad


def records(texts: list[str]) -> list[Record]:
    return [Record.new({"text": t}, key=i, stage="read") for i, t in enumerate(texts)]


def folded(text: str) -> str:
    """The key, computed independently of the stage: NFKC, lowercase, whitespace collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).lower()).strip()


def check_clusters(rows: list[Record], out: list[Record]) -> dict[str, list[int]]:
    """Every input row comes out once; group by the kept row each one names."""
    assert [r.meta.id for r in out] == [r.meta.id for r in rows]  # order kept, none lost
    position = {r.meta.id: i for i, r in enumerate(rows)}
    kept = {r.meta.id for r in out if not r.rejected}
    clusters: dict[str, list[int]] = defaultdict(list)
    for r in out:
        if r.rejected:
            assert r.meta.rejection is not None
            rep = r.meta.rejection.raw["duplicate_of"]
            assert rep in kept, "a removed row must name a kept row"
            assert position[rep] < position[r.meta.id], "the kept row is the first of its cluster"
        else:
            rep = r.meta.id
        clusters[rep].append(position[r.meta.id])
    for rep, members in clusters.items():
        assert members[0] == position[rep]  # exactly one kept row, and it comes first
    return clusters


@SETTINGS
@given(st.lists(variant(), max_size=30))
def test_exact_dedup_keeps_one_row_per_cluster_and_names_it(texts: list[str]) -> None:
    rows = records(texts)
    out = list(ExactDedup().process_all(rows, StageContext(seed=0, stage="dedup.exact")))
    clusters = check_clusters(rows, out)
    by_key: dict[str, set[int]] = defaultdict(set)
    for i, t in enumerate(texts):
        by_key[folded(t)].add(i)
    assert sorted(map(sorted, by_key.values())) == sorted(map(sorted, clusters.values()))


WORDS = [
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta",
    "theta", "iota", "kappa", "lambda", "mu", "nu", "xi",
]  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(WORDS), min_size=0, max_size=14), min_size=1, max_size=8),
    st.lists(st.integers(0, 7), max_size=20),
)
def test_minhash_dedup_keeps_one_row_per_cluster_and_names_it(
    docs: list[list[str]], picks: list[int]
) -> None:
    """Copies of random documents: identical texts always share a cluster with one kept row."""
    texts = [" ".join(docs[p % len(docs)]) for p in picks] + [" ".join(d) for d in docs]
    rows = records(texts)
    stage = MinHashDedup(threshold=0.7, shingle_size=2, num_perm=64)
    out = list(stage.process_all(rows, StageContext(seed=0, stage="dedup.minhash")))
    clusters = check_clusters(rows, out)
    cluster_of = {i: rep for rep, members in clusters.items() for i in members}
    for i, a in enumerate(texts):
        for j in range(i + 1, len(texts)):
            if a == texts[j] and a.split():
                assert cluster_of[i] == cluster_of[j], (a, i, j)
