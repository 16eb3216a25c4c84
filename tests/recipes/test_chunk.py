"""Chunking keeps whole sentences within the word budget and links chunks to documents."""

from __future__ import annotations

from synthmill.pipeline.stage import StageContext
from synthmill.recipes.chunk import Chunk, chunk_text, sentences
from synthmill.records import Record

TEXT = "One two three. Four five six seven. Eight nine! Ten eleven twelve thirteen fourteen?"


def test_sentences() -> None:
    assert sentences(TEXT)[1] == "Four five six seven."
    assert len(sentences(TEXT)) == 4


def test_chunks_respect_the_budget_and_keep_every_word() -> None:
    chunks = chunk_text(TEXT, max_words=7)
    assert chunks == [
        "One two three. Four five six seven.",
        "Eight nine! Ten eleven twelve thirteen fourteen?",
    ]
    assert " ".join(chunks).split() == TEXT.split()


def test_overlap_repeats_the_last_sentence() -> None:
    chunks = chunk_text(TEXT, max_words=9, overlap=1)
    assert chunks[0] == "One two three. Four five six seven. Eight nine!"
    assert chunks[1].startswith("Eight nine!")
    assert all(len(c.split()) <= 9 for c in chunks)


def test_long_sentence_is_cut() -> None:
    long = " ".join(f"w{i}" for i in range(25)) + "."
    chunks = chunk_text(long, max_words=10)
    assert [len(c.split()) for c in chunks] == [10, 10, 5]


def test_chunk_stage_makes_children() -> None:
    doc = Record.new({"text": TEXT, "doc_id": 3}, key=0, stage="read", origin="real")
    empty = Record.new({"text": "Hi."}, key=1, stage="read", origin="real")
    out = Chunk(max_words=7, min_words=2).process([doc, empty], StageContext(0, "chunk"))
    kept = [r for r in out if not r.rejected]
    assert [r.data["chunk_index"] for r in kept] == [0, 1]
    assert all(r.meta.parents == (doc.meta.id,) and r.meta.origin == "real" for r in kept)
    assert all(r.data["doc_id"] == 3 for r in kept)
    assert out[-1].rejected and out[-1].meta.rejection.reason == "no chunk long enough"  # type: ignore[union-attr]
