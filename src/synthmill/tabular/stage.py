"""`tabular.synthesize`: a global stage that consumes real rows and emits synthetic ones.

It holds out a share of the real rows (stratified by the target), fits the synthesizer
on the rest, streams the synthetic rows out shard by shard (each with `_meta.origin:
synthetic`, the method and the seed), and evaluates them against the training rows and
the holdout. The evaluation goes to `evaluation` (a JSON file; `synthmill tabular
synthesize` puts it in the run directory) and into the card, one row per column.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import pyarrow as pa
from pydantic import Field, PrivateAttr

from synthmill.errors import DataError
from synthmill.io.atomic import write_text_atomic
from synthmill.io.records_io import records_to_table
from synthmill.pipeline.stage import GlobalStage, StageContext
from synthmill.records import META_COLUMN, Record

SHARD_ROWS = 10_000  # rows sampled at once
EVAL_ROWS = 20_000  # synthetic rows the evaluation looks at, at most


def records_table(records: Iterable[Record], chunk: int = 10_000) -> pa.Table:
    """The data columns of records as one typed Arrow table (text columns typed)."""
    from synthmill.tabular.table import coerce_strings

    tables, batch = [], []
    for record in records:
        batch.append(record)
        if len(batch) >= chunk:
            tables.append(records_to_table(batch).drop_columns([META_COLUMN]))
            batch = []
    if batch or not tables:
        tables.append(records_to_table(batch).drop_columns([META_COLUMN]))
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        reason = str(exc).splitlines()[0]
        raise DataError(
            f"rows do not share a column type ({reason}); make each column one type"
        ) from None
    return coerce_strings(table)


class Synthesize(GlobalStage):
    """Fit a tabular synthesizer on the real rows and emit synthetic rows in their place."""

    kind: ClassVar[str] = "tabular.synthesize"
    requires: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("scipy", "scipy", "tabular"),
        ("sklearn", "scikit-learn", "tabular"),
    )
    method: Literal["copula", "dp", "argn"] = Field(
        description="Synthesizer: copula (Gaussian copula), dp (smartnoise-synth MST/AIM, "
        "differentially private) or argn (mostlyai-engine TabularARGN)."
    )
    rows: int | None = Field(
        default=None, ge=1, description="Rows to make; default: as many as trained on."
    )
    target: str | None = Field(
        default=None,
        description="Column to predict: stratifies the holdout, conditions the fit, scores TSTR.",
    )
    holdout: float = Field(
        default=0.2,
        ge=0.0,
        lt=1.0,
        description="Share of real rows kept out of the fit for evaluation.",
    )
    epsilon: float = Field(default=1.0, gt=0, description="dp: the privacy budget epsilon.")
    delta: float | None = Field(
        default=None, gt=0, lt=1, description="dp: delta; default 1 / (rows * sqrt(rows))."
    )
    dp_mechanism: Literal["mst", "aim"] = Field(default="mst", description="dp: MST or AIM.")
    bounds: dict[str, tuple[float, float]] | Literal["data"] | None = Field(
        default=None,
        description="dp: [lo, hi] of numeric columns (public knowledge, no epsilon spent); "
        "others go on a public power-of-two grid (no bounds needed); 'data' reads them "
        "from the rows, outside the guarantee.",
    )
    epochs: float | None = Field(
        default=None, gt=0, description="argn: most training epochs (default 100, early stop)."
    )
    evaluation: str | None = Field(default=None, description="Write the evaluation JSON here.")
    _result: dict[str, Any] | None = PrivateAttr(default=None)

    def process_all(self, records: Iterable[Record], ctx: StageContext) -> Iterator[Record]:
        from synthmill.tabular import run

        table = records_table(records)
        options = run.Options(self.epsilon, self.delta, self.dp_mechanism, self.bounds, self.epochs)
        fitted = run.fit(table, self.method, ctx.seed, self.target, self.holdout, options)
        rows = self.rows or fitted.train.num_rows
        params: dict[str, Any] = {"method": self.method}
        guarantee = run.guarantee(fitted.model)
        if guarantee:
            params |= {k: guarantee[k] for k in ("epsilon", "delta", "mechanism")}
        kept: list[pa.Table] = []
        for shard, part in enumerate(fitted.model.sample(rows, SHARD_ROWS)):
            if sum(t.num_rows for t in kept) < EVAL_ROWS:
                kept.append(part)
            yield from self._records(part, shard, ctx, params)
        ctx.count("real rows trained on", fitted.train.num_rows)
        ctx.count("real rows held out", fitted.holdout.num_rows)
        self._result = run.evaluation(fitted, pa.concat_tables(kept), ctx.seed)
        if self.evaluation:
            text = json.dumps(self._result, indent=2, default=str) + "\n"
            write_text_atomic(Path(self.evaluation), text)

    def _records(
        self, part: pa.Table, shard: int, ctx: StageContext, base: dict[str, Any]
    ) -> Iterator[Record]:
        params = {**base, "shard": shard}
        for i, row in enumerate(part.to_pylist()):
            yield Record.new(
                row,
                key=(shard, i),
                stage=self.label,
                origin="synthetic",
                seed=ctx.seed,
                recipe=f"tabular.{self.method}",
                params=params,
            )

    def summarize(self, stats: dict[str, Any]) -> dict[str, Any] | None:
        """The evaluation as card rows: headline metrics, then fidelity per column."""
        from synthmill.tabular.evaluation import card_summary

        result = self._result
        if result is None and self.evaluation and Path(self.evaluation).is_file():
            result = json.loads(Path(self.evaluation).read_text(encoding="utf-8"))
        if result is None:
            return None
        rows = card_summary(result["evaluation"], result.get("models"))
        guarantee = result.get("privacy_guarantee")
        if guarantee:
            covered = "" if guarantee.get("covered", True) else "; numeric bounds NOT covered"
            head = {
                "dp_epsilon": {
                    "score": f"{guarantee['epsilon']:g}",
                    "detail": f"{guarantee['mechanism']} ({guarantee['library']}); "
                    f"{guarantee['epsilon_for_bounds']:g} of it for numeric bounds{covered}",
                },
                "dp_delta": {
                    "score": f"{guarantee['delta']:.3g}",
                    "detail": "public: " + ", ".join(guarantee["public"]),
                },
            }
            if guarantee.get("seeding"):
                head["dp_seed"] = {"score": "fit unseeded", "detail": guarantee["seeding"]}
            grid = guarantee.get("grid")
            if grid:
                lost = [k for k, v in grid.get("located", {}).items() if not v["ok"]]
                head["dp_grid"] = {
                    "score": f"{grid['bins_per_octave']} bins/octave",
                    "detail": "bins per octave from rows, columns, epsilon and delta (a "
                    "typical bin at 5 sigma of MST's noise, 1 at least); each column's run "
                    "of bins found in MST's noisy counts"
                    + (f"; NOT located at this epsilon: {', '.join(lost)}" if lost else ""),
                }
            rows = {**head, **rows}
        return rows
