"""Plain functions used as pipeline stages by examples/*.yaml (`use: map`)."""

from __future__ import annotations

import re

from synthmill import Record, StageContext


def sentences(batch: list[Record], ctx: StageContext) -> list[Record]:
    """Split each document into sentences, one new row per sentence, linked to its parent."""
    out = []
    for doc in batch:
        parts = re.split(r"(?<=[.!?])\s+", str(doc.data["text"]).strip())
        for i, sentence in enumerate(p for p in parts if p):
            out.append(doc.child({"text": sentence}, stage=ctx.stage, key=i, origin="real"))
    return out


def cloze(batch: list[Record], ctx: StageContext) -> list[Record]:
    """Make a fill-in-the-blank exercise from each sentence: a seeded word is blanked out."""
    out = []
    for rec in batch:
        words = str(rec.data["text"]).split()
        candidates = [i for i, w in enumerate(words) if len(w.strip(".,;:!?")) >= 5]
        if not candidates:
            out.append(rec.reject(ctx.stage, "no word of 5+ letters to blank"))
            continue
        i = ctx.rng(rec.meta.id).choice(candidates)
        answer = words[i].strip(".,;:!?\"'()")
        question = " ".join("____" if j == i else w for j, w in enumerate(words))
        out.append(
            rec.child(
                {"question": question, "answer": answer, "text": rec.data["text"]},
                stage=ctx.stage,
                recipe="cloze",
                seed=ctx.seed,
            )
        )
    return out
