"""`filter.classifier`: the FineWeb-Edu recipe: judge a sample, train a cheap model, apply it.

An LLM judge scores a seeded sample of rows (1-5); a ridge regression on hashed word
n-grams (or on MiniLM embeddings) learns those scores; its agreement with the judge on
held-out judged rows is counted in the stage's stats; then every row gets a predicted
score and rows below `threshold` are rejected. One judge call per sampled row only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from synthmill.curate.judge import DEFAULT_RUBRIC, Judge
from synthmill.curate.text import text_of
from synthmill.errors import DataError, MissingExtraError
from synthmill.llm.registry import BackendField, backend_option
from synthmill.pipeline.stage import GlobalStage, StageContext
from synthmill.records import Record, Verdict

log = logging.getLogger(__name__)
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Agreement:
    """How well the classifier matches the judge on held-out judged rows."""

    rows: int
    exact: float  # rounded prediction equals the judge's score
    within_one: float
    mae: float
    f1: float  # of "score >= threshold", the decision that filters


def agreement(pred: F64, judge: F64, threshold: float) -> Agreement:
    """Agreement of predictions with judge scores (FineWeb-Edu reports F1 at threshold 3)."""
    if len(judge) == 0:
        return Agreement(0, 0.0, 0.0, 0.0, 0.0)
    p, j = np.rint(pred) >= threshold, judge >= threshold
    tp = float((p & j).sum())
    f1 = 2 * tp / max(1.0, float(p.sum() + j.sum()))
    diff = np.abs(np.rint(pred) - judge)
    return Agreement(
        len(judge),
        float((diff == 0).mean()),
        float((diff <= 1).mean()),
        float(np.abs(pred - judge).mean()),
        f1,
    )


def features(texts: Sequence[str], kind: str) -> Any:
    """Hashed word 1-2-gram TF vectors (sparse), or unit-length MiniLM embeddings."""
    if kind == "embed":
        from synthmill.curate.embed import embed

        return embed(list(texts))
    try:
        from sklearn.feature_extraction.text import HashingVectorizer
    except ImportError:
        raise MissingExtraError("scikit-learn", "curate") from None
    vec = HashingVectorizer(ngram_range=(1, 2), n_features=2**18, alternate_sign=False)
    return vec.transform(texts)


class ClassifierFilter(GlobalStage):
    """Judge a sample, train a classifier on the judge's scores, filter every row with it."""

    kind: ClassVar[str] = "filter.classifier"
    requires: ClassVar[tuple[tuple[str, str, str], ...]] = (("sklearn", "scikit-learn", "curate"),)
    backend: BackendField = backend_option()
    columns: list[str] = Field(default=["text"], min_length=1, description="Columns judged.")
    rubric: str = Field(default=DEFAULT_RUBRIC, description="What the judge's 1-5 scale means.")
    sample: int = Field(default=200, ge=10, description="Rows the judge scores.")
    holdout: float = Field(default=0.25, gt=0, lt=1, description="Judged rows held out.")
    threshold: float = Field(
        default=3.0, ge=1, le=5, description="Least rounded predicted score kept."
    )
    features: Literal["hashed", "embed"] = Field(default="hashed", description="Model input.")
    alpha: float = Field(default=0.3, gt=0, description="Ridge regularization.")

    def reads(self) -> list[str]:
        return list(self.columns)

    def judge(self) -> Judge:
        return Judge(backend=self.backend, columns=self.columns, rubric=self.rubric)

    def process_all(self, records: Iterable[Record], ctx: StageContext) -> Iterator[Record]:
        rows = list(records)
        texts = [text_of(r.data, self.columns) for r in rows]
        scores = self.judge_sample(rows, ctx)
        pred, agree = self.fit_predict(rows, texts, scores, ctx)
        log.info("filter.classifier: held-out agreement with the judge %s", agree)
        for i, record in enumerate(rows):
            yield self._apply(record, float(pred[i]), scores.get(i))

    def judge_sample(self, rows: list[Record], ctx: StageContext) -> dict[int, int]:
        """Row index -> judge score, for a seeded sample of rows (failed replies left out)."""
        rng = ctx.rng("sample")
        picked = sorted(rng.sample(range(len(rows)), min(self.sample, len(rows))))
        judge, scores = self.judge(), {}
        for start in range(0, len(picked), judge.batch_size):
            chunk = picked[start : start + judge.batch_size]
            for i, result in zip(chunk, judge.judge([rows[i] for i in chunk], ctx), strict=True):
                if result.value is not None:
                    scores[i] = result.value.score
        ctx.count("judge.sampled", len(picked))
        ctx.count("judge.scored", len(scores))
        return scores

    def fit_predict(
        self, rows: list[Record], texts: list[str], scores: dict[int, int], ctx: StageContext
    ) -> tuple[F64, Agreement]:
        """Train on judged rows not held out; predict all rows; measure held-out agreement."""
        from sklearn.linear_model import Ridge

        held = {i for i in scores if ctx.rng("holdout", rows[i].meta.id).random() < self.holdout}
        train = sorted(set(scores) - held)
        if len(train) < 5 or len({scores[i] for i in train}) < 2:
            raise DataError(
                f"the judge gave {len(scores)} usable scores ({len(train)} to train on, "
                "needing 5 with 2 different values); raise sample: or check the backend"
            )
        x = features(texts, self.features)
        model = Ridge(alpha=self.alpha).fit(x[train], [scores[i] for i in train])
        pred = np.clip(np.asarray(model.predict(x), dtype=np.float64), 1.0, 5.0)
        test = sorted(held)
        agree = agreement(pred[test], np.array([scores[i] for i in test], float), self.threshold)
        ctx.count("heldout.rows", agree.rows)
        ctx.count("heldout.exact_pct", round(100 * agree.exact))
        ctx.count("heldout.within_one_pct", round(100 * agree.within_one))
        ctx.count("heldout.f1_pct", round(100 * agree.f1))
        return pred, agree

    def _apply(self, record: Record, predicted: float, judged: int | None) -> Record:
        ok = round(predicted) >= self.threshold  # as FineWeb-Edu: the rounded score decides
        verdict = Verdict(ok, "" if ok else "low predicted quality", round(predicted, 3))
        record = record.with_verdict(self.label, verdict)
        if judged is not None:
            record = record.with_meta(scores={**record.meta.scores, "judge": float(judged)})
        if ok:
            return record
        raw = {"predicted": round(predicted, 3), "judge": judged, "threshold": self.threshold}
        return record.reject(self.label, "low predicted quality", raw)
