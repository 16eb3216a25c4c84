"""`--method argn`: MOSTLY AI's TabularARGN (mostlyai-engine), a deep autoregressive
network, trained on CPU.

The engine encodes, trains (with its own train/validation split and early stopping) and
samples; its value protection (rare categories and extreme numbers are not reproduced)
stays on. Columns the copula would not model either (IDs, free text, all-missing) are
not given to the network: they are made the same way as for `copula`, from the column's
pattern. Training is seeded; each shard of a sample is seeded by seed and shard.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthmill.errors import DataError
from synthmill.tabular.extras import version
from synthmill.tabular.table import ColumnSpec, profile
from synthmill.tabular.transformers import ColumnModel, model_for

log = logging.getLogger(__name__)
EPOCHS = 100.0  # the engine's default; early stopping on validation loss usually ends sooner
BATCH: int | None = None  # None: the engine's heuristic (8 rows on small tables)
MODEL = "MOSTLY_AI/Medium"  # the engine's default


def check_epochs(epochs: float | None) -> None:
    if epochs is not None and not epochs > 0:
        raise DataError(f"--epochs {epochs} must be above 0 (for example 10)")


class ARGNSynthesizer:
    """Fit TabularARGN on an Arrow table; sample tables of the same columns and types."""

    method = "argn"

    def __init__(self, seed: int = 0, epochs: float | None = None, model: str = MODEL) -> None:
        check_epochs(epochs)
        self.seed = seed
        self.epochs = float(epochs) if epochs is not None else EPOCHS
        self.model_name = model
        self.specs: list[ColumnSpec] = []
        self.modelled: list[ColumnSpec] = []
        self.generated: list[ColumnModel] = []
        self.guarantee: dict[str, Any] | None = None
        self.details: dict[str, Any] = {}
        self._workspace: tempfile.TemporaryDirectory[str] | None = None
        self.model: Any = None

    def fit(self, table: pa.Table, specs: list[ColumnSpec] | None = None) -> ARGNSynthesizer:
        from mostlyai.engine import TabularARGN

        self.specs = specs or profile(table)
        self.modelled = [s for s in self.specs if s.modelled]
        if not self.modelled:
            raise DataError("--method argn needs at least one numeric, date or category column")
        if table.num_rows < 20:
            raise DataError(
                f"--method argn needs 20 rows or more to train; the table has {table.num_rows}"
            )
        rng = np.random.default_rng([self.seed, 0])
        self.generated = [model_for(s) for s in self.specs if not s.modelled]
        for gen in self.generated:
            gen.fit(table.column(gen.spec.name), rng)
        frame = table.select([s.name for s in self.modelled]).to_pandas()
        self._workspace = tempfile.TemporaryDirectory(prefix="synthmill-argn-")
        started = time.perf_counter()
        self.model = TabularARGN(
            model=self.model_name,
            max_epochs=self.epochs,
            batch_size=BATCH,
            device="cpu",
            workspace_dir=self._workspace.name,
            random_state=self.seed,
            verbose=0,
        )
        self.model.fit(frame)
        self.details = {
            "library": f"mostlyai-engine {version('mostlyai-engine')}",
            "model": self.model_name,
            "max_epochs": self.epochs,
            "batch_size": BATCH or "engine heuristic",
            "fit_seconds": round(time.perf_counter() - started, 3),
        }
        return self

    def sample_shard(self, rows: int, shard: int, shard_size: int) -> pa.Table:
        from mostlyai.engine import set_random_state

        set_random_state(int(np.random.SeedSequence([self.seed, 4, shard]).generate_state(1)[0]))
        with contextlib.redirect_stdout(None):
            frame = self.model.sample(n_samples=rows)
        rng = np.random.default_rng([self.seed, 1, shard])
        made = {
            g.spec.name: g.decode(np.zeros((rows, 0)), rng, shard * shard_size)
            for g in self.generated
        }
        columns = [made[s.name] if s.name in made else _typed(frame[s.name], s) for s in self.specs]
        return pa.table(columns, names=[s.name for s in self.specs])

    def sample(self, rows: int, shard_size: int = 10_000) -> Iterator[pa.Table]:
        for shard, start in enumerate(range(0, rows, shard_size)):
            yield self.sample_shard(min(shard_size, rows - start), shard, shard_size)

    def describe(self) -> dict[str, str]:
        made = {g.spec.name: g.describe() for g in self.generated}
        return {
            s.name: f"{s.kind}: " + made.get(s.name, f"TabularARGN ({self.model_name})")
            for s in self.specs
        }


def _typed(series: Any, spec: ColumnSpec) -> pa.Array:
    """A column the engine returned (pandas nullable types) as the real column's type."""
    arr = pa.array(series, from_pandas=True)
    typ = spec.type
    if arr.type == typ:
        return arr
    if pa.types.is_boolean(typ) and pa.types.is_string(arr.type):
        lowered = pc.utf8_lower(arr)
        return pc.if_else(pc.is_null(lowered), None, pc.equal(lowered, "true"))
    if pa.types.is_integer(typ) and pa.types.is_floating(arr.type):
        arr = pc.round(arr)
    try:
        return arr.cast(typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(
            f"column {spec.name!r}: the engine returned {arr.type}, not {typ} ({exc})"
        ) from None
