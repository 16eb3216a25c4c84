"""`--method dp`: differentially private synthesis with smartnoise-synth's MST (or AIM).

The noise, the privacy accounting and the model are smartnoise-synth's (OpenDP's Gaussian
and Laplace samplers, Private-PGM's estimation); nothing here adds noise. This module
only says what is discrete and how, and turns the result back into typed columns:
- categorical and few-valued numeric columns are label-encoded; their *levels* are read
  from the real rows and treated as public, as smartnoise does (the card says so);
- numeric and datetime columns are cut into bins. Bounds given by the user
  (`bounds: {col: [lo, hi]}`) cost nothing: 20 equal-width bins between them. Columns
  without given bounds (the default) go on a public, data-independent grid of signed
  powers of two (`grid_bins` per octave, from 2^-10 to 2^53, and a bin around zero),
  whose resolution is a public function of the row count, column count, epsilon and
  delta; MST's own noisy one-way marginals find where the values lie (the run of
  neighbouring bins that stands out most from the noise is kept, the rest merged into
  one bin; `dpgrid.grid_mst`), so no epsilon is spent on bounds; a column whose run does
  not stand out above what noise alone reaches is stated as NOT located. Draws outside the span of
  bins around the model's mode that hold at least 1% of its draws each (gaps of up to 4
  bin widths bridged) are moved to the nearest bin of that span: post-processing of the
  model, no privacy cost. smartnoise's DP
  bound finder (`approx_bounds`) is not used: it needs a bin with about 10/epsilon
  rows, which a few hundred rows cannot give once epsilon is split over the columns
  (it failed on every bench table at epsilon 1);
  `bounds: data` reads min and max from the real rows, which epsilon does NOT cover, and
  the card and `guarantee` say so. A synthetic value is drawn uniformly inside its
  sampled bin (post-processing, no privacy cost);
- IDs and free text cannot be synthesized privately from their real values: left empty.
The row count is public (MST uses it). The fit's noise is not seeded: smartnoise-synth
offers no seed for it (OpenDP's samplers); the card says so (`seeding`). NumPy's global
generator, which MST's pair selection uses, is seeded during the fit; drawing rows from
the fitted model is seeded by seed and shard.
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
from synthmill.tabular.dpgrid import KEEP_SHARE, Grid, grid_mst, per_octave
from synthmill.tabular.extras import version
from synthmill.tabular.features import numbers
from synthmill.tabular.table import ColumnSpec, profile

log = logging.getLogger(__name__)
Array = np.ndarray[Any, Any]
BINS = 20  # equal-width bins per numeric column
SAMPLE_FOR_KEPT = 4000  # rows drawn (free) to see where the fitted model puts mass
MECHANISMS = ("mst", "aim")
NUMERIC = ("numeric", "datetime")
SEEDING = (
    "the fit is not reproducible: smartnoise-synth draws MST's and AIM's noise from "
    "OpenDP's samplers, which take no seed (the OS's secure random source), so two fits "
    "of one table differ; the choices made with NumPy's generator during the fit and the "
    "rows drawn from the fitted model are seeded by --seed"
)


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
    ) -> None:
        check_options(epsilon, delta, mechanism, bounds)
        self.seed = seed
        self.epsilon = float(epsilon)
        self.delta = delta
        self.mechanism = mechanism
        self.bounds = bounds
        self.bins = bins
        self.grid: Grid | None = None
        self.on_grid: list[str] = []  # numeric columns without bounds: on the public grid
        self.keep: dict[str, Any] = {}  # grid column -> bins the fitted model gives mass
        self.located: dict[str, dict[str, float | bool]] = {}  # grid column -> its window's z
        self.grid_outputs: dict[str, Grid] = {}  # MST's name of a grid column -> its grid
        self.mst_names: dict[str, str] = {}  # grid column -> MST's name of it
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
                x = numbers(col)
                data[spec.name] = (
                    self.grid.index(x) if spec.name in self.on_grid and self.grid else x
                )
            else:
                data[spec.name] = pd.Series(col.to_pylist(), dtype=object)
        return pd.DataFrame(data)

    def _transformers(self, table: pa.Table, delta: float) -> list[Any]:
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
        self.on_grid = [
            s.name
            for s in self.modelled
            if s.kind in NUMERIC and s.name not in given and self.bounds != "data"
        ]
        width = sum(1 + (table.column(s.name).null_count > 0) for s in self.modelled)
        steps = per_octave(table.num_rows, width, self.epsilon, delta)
        self.grid = Grid(steps) if self.on_grid else None
        self.grid_outputs = {}
        at = 0  # MST names its columns col0, col1, ... by transformer output
        for spec in self.modelled:
            col = table.column(spec.name)
            nullable = col.null_count > 0
            if spec.name in self.on_grid:
                self.grid_outputs[f"col{at}"] = Grid(steps)
                self.mst_names[spec.name] = f"col{at}"
            at += 1 + nullable
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
            elif self.grid is not None:
                size = self.grid.size
                self.sources[spec.name] = (
                    f"none: a public power-of-two grid ({self.grid.per_octave} bins per "
                    "octave); where the values lie is what the DP model learned"
                )
                out.append(
                    BinTransformer(bins=size, lower=0.0, upper=float(size), nullable=nullable)
                )
                continue
            out.append(BinTransformer(bins=self.bins, lower=lo, upper=hi, nullable=nullable))
        return out

    def fit(self, table: pa.Table, specs: list[ColumnSpec] | None = None) -> DPSynthesizer:
        from snsynth import Synthesizer
        from snsynth.transform import TableTransformer

        self.specs = specs or profile(table)
        self.modelled = [s for s in self.specs if s.modelled]
        if not self.modelled:
            raise DataError("--method dp needs at least one numeric, date or category column")
        n = table.num_rows
        delta = self.delta if self.delta is not None else default_delta(n)
        transformers = self._transformers(table, delta)
        use_jax_cache()
        kwargs: dict[str, Any] = {"epsilon": self.epsilon, "delta": delta}
        started = time.perf_counter()
        if self.mechanism == "mst" and self.grid is not None:
            model = grid_mst(self.epsilon, delta, self.grid_outputs)
        else:
            model = Synthesizer.create(self.mechanism, **kwargs)
        printed = io.StringIO()
        state = np.random.get_state()  # MST picks its pairs with NumPy's global generator
        np.random.seed(int(np.random.SeedSequence([self.seed, 5]).generate_state(1)[0]))
        try:
            with contextlib.redirect_stdout(printed):
                model.fit(
                    self._frame(table),
                    transformer=TableTransformer(transformers),
                    preprocessor_eps=0.0,
                )
        except ValueError as exc:
            raise DataError(f"smartnoise-synth could not fit: {str(exc).splitlines()[0]}") from None
        finally:
            np.random.set_state(state)
        log.debug("smartnoise said: %s", printed.getvalue().strip())
        self.model = model
        for spec, tr in zip(self.modelled, model._transformer.transformers, strict=True):
            if spec.kind in NUMERIC:
                source = self.sources[spec.name]
                self.edges[spec.name] = (float(tr.fit_lower), float(tr.fit_upper), source)
        self._find_kept()
        self.guarantee = self._guarantee(delta, time.perf_counter() - started)
        return self

    def _find_kept(self) -> None:
        """Grid bins the fitted model gives mass, from rows drawn from it (post-processing:
        no privacy cost); their span is the column's range, stated in the card."""
        if self.grid is None:
            return
        state = np.random.get_state()
        np.random.seed(int(np.random.SeedSequence([self.seed, 4]).generate_state(1)[0]))
        try:
            frame = self.model.sample(SAMPLE_FOR_KEPT)
        finally:
            np.random.set_state(state)
        for name in self.on_grid:
            index = self._grid_index(frame[name].tolist())
            counts = np.bincount(index[index >= 0], minlength=self.grid.size)
            noisy = getattr(self.model, "noisy", {}).get(self.mst_names.get(name, ""))
            self.keep[name] = self.grid.kept(counts, noisy[0] if noisy else None)
            window = getattr(self.model, "windows", {}).get(self.mst_names.get(name, ""))
            if window:
                z, level = window[2], window[3]
                self.located[name] = {"z": round(z, 2), "level": round(level, 2), "ok": z >= level}
            held = np.flatnonzero(self.keep[name])
            lo, hi = self.grid.edges(held[[0, -1]])
            self.edges[name] = (float(lo[0]), float(hi[1]), self.sources[name])

    def _grid_index(self, values: list[Any]) -> Array:
        """smartnoise's bin midpoints back to grid indices (-1 for missing)."""
        assert self.grid is not None
        mid = np.array([np.nan if _missing(v) else float(v) for v in values])
        index = np.clip(np.floor(np.nan_to_num(mid, nan=-1.0)), -1, self.grid.size - 1)
        return np.where(np.isnan(mid), -1, index).astype(int)

    def _guarantee(self, delta: float, seconds: float) -> dict[str, Any]:
        found: dict[str, Any] = {
            "definition": "(epsilon, delta)-differential privacy of the training rows",
            "epsilon": self.epsilon,
            "delta": delta,
            "mechanism": self.mechanism.upper(),
            "library": f"smartnoise-synth {version('smartnoise-synth')}",
            "epsilon_for_bounds": 0.0,
            "epsilon_for_synthesizer": self.epsilon,
            "bounds": {k: [v[0], v[1], v[2]] for k, v in self.edges.items()},
            "covered": self.bounds != "data",
            "public": [
                "row count",
                "column names and types",
                "category levels (read from the data)",
            ],
            "fit_seconds": round(seconds, 3),
            "seeding": SEEDING,
        }
        if self.bounds == "data":
            found["public"].append("numeric min and max (read from the data), NOT covered")
        if self.grid is not None:
            found["grid"] = {
                "columns": self.on_grid,
                "bins_per_octave": self.grid.per_octave,
                "kept_share": KEEP_SHARE,
                # the data's run of bins: its noisy z, the z noise alone reaches (5%)
                "located": self.located,
            }
            lost = [name for name, v in self.located.items() if not v["ok"]]
            if lost:
                found["not_located"] = (
                    f"{', '.join(lost)}: at this epsilon and row count the noisy counts do "
                    "not tell where the values lie from noise; their range may be anywhere"
                )
        return found

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
        if spec.name in self.keep and self.grid is not None:
            index = self._grid_index(values)
            present = index >= 0
            moved = Grid.nearest(np.where(present, index, 0), self.keep[spec.name])
            x = self.grid.draw(moved, rng)
            return self._typed(spec, np.where(present, x, np.nan), ~present)
        lo, hi, _ = self.edges[spec.name]
        mid = np.array([np.nan if _missing(v) else float(v) for v in values])
        width = (hi - lo) / self.bins
        index = np.clip(np.floor((mid - lo) / width), 0, self.bins - 1)
        x = np.clip(lo + (index + rng.random(rows)) * width, lo, hi)
        return self._typed(spec, x, np.isnan(mid))

    @staticmethod
    def _typed(spec: ColumnSpec, x: Array, missing: Array) -> Any:
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
            if spec.name in self.keep:
                lo, hi, _ = self.edges[spec.name]
                how = (
                    f"public power-of-two grid, {self.grid.per_octave if self.grid else 0} "
                    f"bins per octave; the DP model puts its mass in [{lo:.4g}, {hi:.4g}] "
                    "(no epsilon spent on bounds)"
                )
                if not self.located.get(spec.name, {}).get("ok", True):
                    how += "; NOT located: at this epsilon that range may be noise"
            elif spec.name in self.edges:
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
