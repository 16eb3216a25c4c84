"""`--method dp`: differentially private synthesis with smartnoise-synth's MST (or AIM).

The noise, the privacy accounting and the model are smartnoise-synth's (OpenDP's Gaussian
and Laplace samplers, Private-PGM's estimation); nothing here adds noise. This module
only says what is discrete and how, and turns the result back into typed columns:
- categorical and few-valued numeric columns are label-encoded; their *levels* are read
  from the real rows and treated as public, as smartnoise does (the card says so);
- numeric and datetime columns are cut into equal-width bins between bounds. Bounds given
  by the user (`bounds: {col: [lo, hi]}`) cost nothing; bounds not given are found by
  smartnoise's own DP preprocessor with a share of epsilon (`bounds_share`, spread
  over those columns) and the rest goes to the synthesizer, so the total stays epsilon;
  `bounds: data` reads min and max from the real rows, which epsilon does NOT cover, and
  the card and `guarantee` say so. A synthetic value is drawn uniformly inside its
  sampled bin (post-processing, no privacy cost);
- IDs and free text cannot be synthesized privately from their real values: left empty.
The row count is public (MST uses it). The fit's noise is not seeded (OpenDP's sampler);
drawing rows from the fitted model is, by seed and shard.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from synthmill.errors import DataError
from synthmill.tabular.extras import version
from synthmill.tabular.features import numbers
from synthmill.tabular.table import ColumnSpec, profile

log = logging.getLogger(__name__)
Array = np.ndarray[Any, Any]
BINS = 20  # equal-width bins per numeric column
BOUNDS_SHARE = 0.1  # share of epsilon for DP bounds of columns without given bounds
MECHANISMS = ("mst", "aim")
NUMERIC = ("numeric", "datetime")


def default_delta(rows: int) -> float:
    """smartnoise's advice: delta of the order of 1 / (n * sqrt(n))."""
    return float(1.0 / (max(rows, 2) ** 1.5))


def check_options(
    epsilon: float, delta: float | None, mechanism: str, bounds: dict[str, Any] | str | None
) -> None:
    """Each bad DP option as a one-line DataError."""
    if not (isinstance(epsilon, int | float) and math.isfinite(epsilon) and epsilon > 0):
        raise DataError(f"--epsilon {epsilon} must be a number above 0 (for example 1.0)")
    if delta is not None and not 0 < delta < 1:
        raise DataError(f"--delta {delta} must be in (0, 1), far below 1/rows (for example 1e-6)")
    if mechanism not in MECHANISMS:
        raise DataError(f"--dp-mechanism {mechanism!r}: choose one of {', '.join(MECHANISMS)}")
    if isinstance(bounds, str) and bounds != "data":
        raise DataError(f"bounds {bounds!r}: give col=lo:hi pairs or 'data'")
    for name, pair in (bounds or {}).items() if isinstance(bounds, dict) else ():
        lo, hi = pair
        if not lo < hi:
            raise DataError(f"--bounds {name}={lo}:{hi}: the lower bound must be below the upper")


def parse_bounds(text: str | None) -> dict[str, tuple[float, float]] | str | None:
    """'age=18:100,amount=0:20000' -> {'age': (18, 100), ...}; 'data' stays 'data'."""
    if text is None or text.strip() == "":
        return None
    if text.strip() == "data":
        return "data"
    found: dict[str, tuple[float, float]] = {}
    for part in text.split(","):
        name, _, span = part.partition("=")
        lo, _, hi = span.partition(":")
        try:
            found[name.strip()] = (float(lo), float(hi))
        except ValueError:
            raise DataError(
                f"--bounds {part.strip()!r}: write col=lo:hi, for example age=18:100"
            ) from None
    return found


def use_jax_cache() -> None:
    """A persistent JAX compilation cache: MST compiles ~250 small kernels per fit, the
    same ones again for tables of the same shape (tests, re-runs)."""
    import jax

    from synthmill.pipeline.rundir import default_cache_dir

    config: Any = jax.config

    cache = Path(os.environ.get("JAX_COMPILATION_CACHE_DIR") or default_cache_dir() / "jax")
    with contextlib.suppress(Exception):  # a cache is an optimisation, never a failure
        cache.mkdir(parents=True, exist_ok=True)
        config.update("jax_compilation_cache_dir", str(cache))
        config.update("jax_persistent_cache_min_compile_time_secs", 0)
        config.update("jax_persistent_cache_min_entry_size_bytes", -1)


class DPSynthesizer:
    """Fit smartnoise-synth's MST or AIM on an Arrow table; sample typed tables."""

    method = "dp"

    def __init__(
        self,
        seed: int = 0,
        epsilon: float = 1.0,
        delta: float | None = None,
        mechanism: str = "mst",
        bounds: dict[str, tuple[float, float]] | str | None = None,
        bins: int = BINS,
        bounds_share: float = BOUNDS_SHARE,
    ) -> None:
        check_options(epsilon, delta, mechanism, bounds)
        self.seed = seed
        self.epsilon = float(epsilon)
        self.delta = delta
        self.mechanism = mechanism
        self.bounds = bounds
        self.bins = bins
        self.bounds_share = bounds_share
        self.specs: list[ColumnSpec] = []
        self.modelled: list[ColumnSpec] = []
        self.edges: dict[str, tuple[float, float, str]] = {}
        self.sources: dict[str, str] = {}
        self.guarantee: dict[str, Any] = {}
        self.model: Any = None

    def _frame(self, table: pa.Table) -> Any:
        import pandas as pd

        data: dict[str, Any] = {}
        for spec in self.modelled:
            col = table.column(spec.name)
            if spec.kind in NUMERIC:
                data[spec.name] = numbers(col)
            else:
                data[spec.name] = pd.Series(col.to_pylist(), dtype=object)
        return pd.DataFrame(data)

    def _transformers(self, table: pa.Table) -> tuple[list[Any], list[str]]:
        from snsynth.transform import BinTransformer, LabelTransformer

        given = self.bounds if isinstance(self.bounds, dict) else {}
        unknown = sorted(set(given) - {s.name for s in self.specs})
        if unknown:
            raise DataError(f"--bounds names columns the table lacks: {', '.join(unknown)}")
        kinds = {s.name: s.kind for s in self.specs}
        wrong = sorted(n for n in given if kinds[n] not in NUMERIC)
        if wrong:
            raise DataError(f"--bounds are for numeric columns; not for: {', '.join(wrong)}")
        out: list[Any] = []
        private: list[str] = []
        for spec in self.modelled:
            col = table.column(spec.name)
            nullable = col.null_count > 0
            if spec.kind not in NUMERIC:
                out.append(LabelTransformer(nullable=nullable))
                continue
            lo: float | None = None
            hi: float | None = None
            if spec.name in given:
                lo, hi = given[spec.name]
                self.sources[spec.name] = "given"
            elif self.bounds == "data":
                x = numbers(col)
                lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
                hi = hi if hi > lo else lo + 1.0
                self.sources[spec.name] = "read from the data (not covered by epsilon)"
            else:
                self.sources[spec.name] = "found under DP by smartnoise's preprocessor"
                private.append(spec.name)
            out.append(BinTransformer(bins=self.bins, lower=lo, upper=hi, nullable=nullable))
        return out, private

    def fit(self, table: pa.Table, specs: list[ColumnSpec] | None = None) -> DPSynthesizer:
        from snsynth import Synthesizer
        from snsynth.transform import TableTransformer

        self.specs = specs or profile(table)
        self.modelled = [s for s in self.specs if s.modelled]
        if not self.modelled:
            raise DataError("--method dp needs at least one numeric, date or category column")
        n = table.num_rows
        delta = self.delta if self.delta is not None else default_delta(n)
        transformers, private = self._transformers(table)
        pre_eps = self.bounds_share * self.epsilon if private else 0.0
        use_jax_cache()
        kwargs: dict[str, Any] = {"epsilon": self.epsilon, "delta": delta}
        started = time.perf_counter()
        model = Synthesizer.create(self.mechanism, **kwargs)
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                model.fit(
                    self._frame(table),
                    transformer=TableTransformer(transformers),
                    preprocessor_eps=pre_eps,
                )
        except ValueError as exc:
            if "bounds" in str(exc).lower() and private:
                raise DataError(
                    f"DP bounds could not be found for {', '.join(private)} with epsilon "
                    f"{pre_eps:.3g} spread over {len(private)} columns; give them: "
                    "--bounds col=lo:hi,... (or raise --epsilon)"
                ) from None
            raise DataError(f"smartnoise-synth could not fit: {str(exc).splitlines()[0]}") from None
        log.debug("smartnoise said: %s", printed.getvalue().strip())
        self.model = model
        for spec, tr in zip(self.modelled, model._transformer.transformers, strict=True):
            if spec.kind in NUMERIC:
                source = self.sources[spec.name]
                self.edges[spec.name] = (float(tr.fit_lower), float(tr.fit_upper), source)
        spent_pre = pre_eps if private else 0.0
        self.guarantee = {
            "definition": "(epsilon, delta)-differential privacy of the training rows",
            "epsilon": self.epsilon,
            "delta": delta,
            "mechanism": self.mechanism.upper(),
            "library": f"smartnoise-synth {version('smartnoise-synth')}",
            "epsilon_for_bounds": round(spent_pre, 6),
            "epsilon_for_synthesizer": round(self.epsilon - spent_pre, 6),
            "bounds": {k: [v[0], v[1], v[2]] for k, v in self.edges.items()},
            "covered": self.bounds != "data",
            "public": [
                "row count",
                "column names and types",
                "category levels (read from the data)",
            ],
            "fit_seconds": round(time.perf_counter() - started, 3),
        }
        if self.bounds == "data":
            self.guarantee["public"].append("numeric min and max (read from the data)")
        return self

    def sample_shard(self, rows: int, shard: int) -> pa.Table:
        """Rows drawn from the fitted model; NumPy's global generator (which Private-PGM
        samples with) is seeded by seed and shard, then put back."""
        state = np.random.get_state()
        np.random.seed(int(np.random.SeedSequence([self.seed, 2, shard]).generate_state(1)[0]))
        try:
            rng = np.random.default_rng([self.seed, 3, shard])
            # Private-PGM emits rows grouped by value (its randomized rounding): shuffle
            frame = self.model.sample(rows).sample(frac=1.0, random_state=rng)
            columns = {s.name: self._column(s, frame, rows, rng) for s in self.specs}
        finally:
            np.random.set_state(state)
        return pa.table([columns[s.name] for s in self.specs], names=[s.name for s in self.specs])

    def _column(self, spec: ColumnSpec, frame: Any, rows: int, rng: np.random.Generator) -> Any:
        if not spec.modelled:
            return pa.nulls(rows, spec.type)
        values = frame[spec.name].tolist()
        if spec.kind not in NUMERIC:
            clean = [None if _missing(v) else v for v in values]
            return pa.array(clean, type=spec.type)
        lo, hi, _ = self.edges[spec.name]
        mid = np.array([np.nan if _missing(v) else float(v) for v in values])
        width = (hi - lo) / self.bins
        index = np.clip(np.floor((mid - lo) / width), 0, self.bins - 1)
        x = np.clip(lo + (index + rng.random(rows)) * width, lo, hi)
        missing = np.isnan(mid)
        mask = missing if missing.any() else None
        typ = spec.type
        if pa.types.is_floating(typ):
            return pa.array(x, mask=mask).cast(typ)
        ints = pa.array(np.round(np.nan_to_num(x)).astype(np.int64), mask=mask)
        if pa.types.is_date32(typ):
            return ints.cast(pa.int32()).cast(typ)
        return ints.cast(typ)

    def sample(self, rows: int, shard_size: int = 10_000) -> Iterator[pa.Table]:
        for shard, start in enumerate(range(0, rows, shard_size)):
            yield self.sample_shard(min(shard_size, rows - start), shard)

    def describe(self) -> dict[str, str]:
        found = {}
        for spec in self.specs:
            if spec.name in self.edges:
                lo, hi, source = self.edges[spec.name]
                how = f"{self.bins} equal-width bins over [{lo:g}, {hi:g}], bounds {source}"
            elif spec.modelled:
                how = "levels read from the data (public); counts under DP"
            elif spec.kind == "empty":
                how = "all missing"
            else:
                how = "not synthesized under DP (values would come from real rows): left empty"
            found[spec.name] = f"{spec.kind}: {how}"
        return found


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
