"""A public, data-independent grid for numeric columns under DP: signed powers of two.

A value's bin depends only on the value (its sign and its octave, cut into `per_octave`
equal-ratio parts), never on the other rows, so binning costs no privacy and needs no
bounds. The synthesizer's noisy marginals then say which bins hold the data: the run of
neighbouring bins whose noisy counts stand out most (a scan over runs, not bin by bin).
The resolution is a public function of the row count, the column count and the budget:
as many bins per octave as keep a typical bin's count at NEEDED_SIGMAS of MST's noise,
1 at least (wine's 142 rows at epsilon 1 would afford a quarter of one; there a column's
run is found, but its values are drawn across whole octaves).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

Array = np.ndarray[Any, Any]
OCT_LO, OCT_HI = -10, 53  # octaves covered: |x| from 2^-10 to 2^53; smaller is "zero"
# 2^53: every integer up to it is exact as a float64, so a drawn integer value (noise can
# keep the top bin at a tiny epsilon) still converts to float downstream; larger values
# fall in the top bin.
MAX_PER_OCTAVE = 8
SPAN_OCTAVES = 3  # a typical column's values span about this many octaves (each sign)
NEEDED_SIGMAS = 5  # a typical bin's count over MST's noise, so it passes compression
KEEP_SHARE = (
    0.01  # grid bins with fewer of the model's draws than this, away from the data, are moved
)
BRIDGE = 4  # a gap of up to this many bin widths between kept bins is bridged
SPREAD_SIGMAS = (2, 1, 0)  # merged bins above the first of these (in sigmas) that any
# merged bin passes get the merged bin's draws
FALSE_BINS = 0.01  # expected empty grid bins a column keeps by noise alone (MST's 3 sigma: 0.2)
WINDOW_OCTAVES = 8  # the data's run may span this many octaves (on each side of zero)
FALSE_WINDOWS = 0.05  # chance that noise alone gives some window a z above the "located" level


def per_octave(rows: int, width: int, epsilon: float, delta: float) -> int:
    """Bins per octave such that a typical bin's count is NEEDED_SIGMAS times MST's noise
    on a one-way marginal (sigma = sqrt(3 / (2 rho)) * sqrt(columns)), for values spread
    over SPAN_OCTAVES octaves on either side of zero; 1 to 8."""
    from snsynth.utils import cdp_rho

    rho = float(cdp_rho(epsilon, delta))
    sigma = math.sqrt(3.0 / (2.0 * rho)) * math.sqrt(max(width, 1))
    spread = 2 * SPAN_OCTAVES * NEEDED_SIGMAS * sigma
    return int(np.clip(rows // spread, 1, MAX_PER_OCTAVE))


class Grid:
    """Bin index <-> value on the signed power-of-two grid; the index grows with the value."""

    def __init__(self, per_octave: int) -> None:
        self.per_octave = per_octave
        self.half = (OCT_HI - OCT_LO) * per_octave  # bins on each side of zero
        self.size = 2 * self.half + 1

    def index(self, x: Array) -> Array:
        """The bin of each value (NaN stays NaN), as floats for smartnoise's binner."""
        a = np.abs(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            octave = np.clip(np.log2(a), OCT_LO, OCT_HI - 1e-9)
        j = np.floor((octave - OCT_LO) * self.per_octave)
        out = np.where(x > 0, self.half + 1 + j, self.half - 1 - j)
        out = np.where(a < 2.0**OCT_LO, self.half, out)
        return np.where(np.isnan(x), np.nan, out)

    def edges(self, index: Array) -> tuple[Array, Array]:
        """Lower and upper value of each bin."""
        index = np.asarray(index, dtype=float)
        j = np.abs(index - self.half) - 1
        low = 2.0 ** (OCT_LO + j / self.per_octave)
        high = 2.0 ** (OCT_LO + (j + 1) / self.per_octave)
        small = 2.0**OCT_LO
        lo = np.where(index > self.half, low, -high)
        hi = np.where(index > self.half, high, -low)
        zero = index == self.half
        return np.where(zero, -small, lo), np.where(zero, small, hi)

    def draw(self, index: Array, rng: np.random.Generator) -> Array:
        """A value drawn uniformly inside each bin."""
        lo, hi = self.edges(index)
        out: Array = lo + rng.random(len(lo)) * (hi - lo)
        return out

    def kept(self, counts: Array, noisy: Array | None = None) -> Array:
        """Bins to keep: the bins holding at least KEEP_SHARE of the draws are grouped into
        runs (bins within BRIDGE widths, of the narrower of the two, join one run); the run
        holding the most draws is kept (or, given MST's `noisy` one-way counts of the
        bins, the run whose bins' noisy counts sum highest: the data's bins add up to
        the row count, an empty bin is noise, however much of the draws the model put
        there), with every other run whose gap to it is at most BRIDGE times its span,
        and every bin in between. Bins beyond are where noise put
        mass far from the data (AIM keeps every grid bin; MST's merged bin is drawn
        uniformly; and on a small table MST's largest noisy count can be an empty bin far
        away, which then holds a share of the draws but less than the data's run); their
        draws are moved to the nearest kept bin. Widths, not indices, measure the gaps:
        across zero, ten bins of tiny values are a short way, and values on both sides of
        zero (standardized columns) stay together when the bins near zero hold few draws."""
        held = np.flatnonzero(counts >= KEEP_SHARE * max(float(counts.sum()), 1.0))
        if not held.size:
            held = np.array([int(np.argmax(counts))])
        cum = np.concatenate([[0.0], np.cumsum(counts, dtype=float)])
        runs: list[tuple[float, int, int]] = []
        start = int(held[0])
        for i, b in enumerate(held.tolist()):
            if i + 1 == len(held) or not self.near(held[i + 1 : i + 2], start, b)[0]:
                mass = float(cum[b + 1] - cum[start])
                if noisy is not None and len(noisy) == self.size:
                    mass = float(np.maximum(noisy[start : b + 1], 0.0).sum())
                runs.append((mass, start, b))
                if i + 1 < len(held):
                    start = int(held[i + 1])
        _, lo, hi = max(runs)
        lo_edge, hi_edge = self.edges(np.array([lo, hi]))
        reach = BRIDGE * (hi_edge[1] - lo_edge[0])
        first, last = lo, hi
        for _, a, z in runs:
            a_lo, b_hi = self.edges(np.array([a, z]))
            gap = max(a_lo[0] - hi_edge[1], lo_edge[0] - b_hi[1], 0.0)
            if gap <= reach:
                first, last = min(first, a), max(last, z)
        keep = np.zeros(self.size, dtype=bool)
        keep[first : last + 1] = True
        return keep

    def near(self, bins: Array, lo: int, hi: int) -> Array:
        """Which `bins` lie within BRIDGE widths (of the narrower bin) of bins lo..hi."""
        lo_edge, hi_edge = self.edges(np.arange(self.size))
        width = hi_edge - lo_edge
        below = lo_edge[lo] - hi_edge[bins]
        above = lo_edge[bins] - hi_edge[hi]
        end = np.where(bins < lo, lo, hi)
        gap = np.maximum(np.maximum(below, above), 0.0)
        out: Array = gap <= BRIDGE * np.minimum(width[bins], width[end])
        return out

    @staticmethod
    def nearest(index: Array, keep: Array) -> Array:
        """Each index moved to the nearest kept bin (itself when kept)."""
        where = np.flatnonzero(keep)
        pos = np.clip(np.searchsorted(where, index), 1, len(where) - 1) if len(where) > 1 else 0
        if len(where) == 1:
            return np.full(len(index), where[0])
        left, right = where[pos - 1], where[pos]
        out: Array = np.where(np.abs(index - left) <= np.abs(right - index), left, right)
        return np.where(keep[index.astype(int)], index, out)


def best_window(
    y: Array, sigma: float, widest: int, half: int | None = None
) -> tuple[list[tuple[int, int]], float]:
    """The run of contiguous bins [(start, stop)] whose noisy counts are least likely to
    be noise alone: the scan statistic max over runs of sum / (sigma sqrt(width)), widths
    1 to `widest`, and that z. A column's values fill a run of neighbouring bins (the
    grid's index grows with the value) and add up to the row count, so their run's sum
    stands out of the noise by n / (sigma sqrt(width)) even where each of its bins is at
    1-2 sigma, as on a table of ~150 rows at epsilon 1, where a bin-by-bin threshold
    keeps a noise bin as often as a data bin. Given the grid's zero bin `half`, a run of
    positive values and its mirror image (the same magnitudes, negative) are scored as
    one run of twice the width: a standardized column fills both, with nearly empty
    tiny-value bins between them whose noise would make one side alone the best run."""
    best: tuple[list[tuple[int, int]], float] = ([(0, 1)], -np.inf)
    cum = np.concatenate([[0.0], np.cumsum(y, dtype=float)])
    for width in range(1, min(widest, len(y)) + 1):
        sums = cum[width:] - cum[:-width]
        z = sums / (sigma * math.sqrt(width))
        start = int(np.argmax(z))
        if z[start] > best[1]:
            best = ([(start, start + width)], float(z[start]))
        if half is None:
            continue
        starts = np.arange(half + 1, len(y) - width + 1)  # positive runs [a, a + width)
        mirror = 2 * half - (starts + width - 1)  # their images' first bins
        starts, mirror = starts[mirror >= 0], mirror[mirror >= 0]
        if not starts.size:
            continue
        pair = (sums[starts] + sums[mirror]) / (sigma * math.sqrt(2 * width))
        k = int(np.argmax(pair))
        if pair[k] > best[1]:
            a, m = int(starts[k]), int(mirror[k])
            best = ([(m, m + width), (a, a + width)], float(pair[k]))
    return best


def located_level(size: int, widest: int) -> float:
    """The z that noise alone passes in some run with chance about FALSE_WINDOWS (a
    Bonferroni bound over the size * widest runs scanned)."""
    return float(special.ndtri(1 - FALSE_WINDOWS / (size * widest)))


def spread_weights(y: Array, sigma: float, bins: Array) -> Array:
    """Weights of merged `bins` for the merged bin's draws: their noisy counts above the
    first of SPREAD_SIGMAS sigmas that any of them passes (2 sigma: few empty bins; lower
    only when the data's own bins are all below it, as on tables of ~100 rows)."""
    w = np.zeros(len(bins))
    for level in SPREAD_SIGMAS:
        w = np.maximum(y[bins] - level * sigma, 0.0)
        if w.sum() > 0:
            break
    return w


def grid_mst(epsilon: float, delta: float, grid_columns: dict[str, Grid]) -> Any:
    """smartnoise's MST, its domain compression adapted to grid columns.

    MST measures every one-way marginal (noise sigma), keeps the values whose noisy count
    is at least 3 sigma and merges the rest into one bin; when fewer than two pass, it
    keeps the whole domain, which on a grid of 127 bins spreads the mass over every scale.
    On a small table no bin of the data may pass (wine's 142 rows, 14 columns, epsilon 1:
    sigma about 20 counts, the data's bins at 1-3 sigma each), and the largest of ~125
    empty bins' noise is as large, so a bin-by-bin rule kept noise bins far from the data
    (a third of some columns' draws came out negative for all-positive data). For grid
    columns (MST's column name -> grid) the support is the run of contiguous bins, or the
    pair of mirrored runs on both sides of zero, whose noisy counts stand out most
    (`best_window`: the data fill neighbouring bins and add up to the row count), and any
    bin above a threshold that about FALSE_BINS empty bins pass by noise (a far mode). The
    merged rest's draws land on the merged bins within an octave of the runs or between
    them (the data's tails), in proportion to their noisy counts above a level
    (`spread_weights`), or uniformly when none is above 0. `windows` records each grid
    column's span of runs, the best run's z and the z that noise alone reaches
    (`located_level`): below it, the run may be noise (epsilon 0.3 on 142 rows). All of
    this is post-processing of the same noisy measurements; the re-expression of the
    merged bin is smartnoise's own.
    """
    from mbi import Dataset, Domain, LinearMeasurement  # type: ignore[import-untyped]
    from snsynth.mst.mst import MSTSynthesizer

    class GridMST(MSTSynthesizer):  # type: ignore[misc]
        noisy: dict[str, tuple[Array, float]]  # grid column -> (noisy counts, sigma)
        windows: dict[str, tuple[int, int, float, float]]  # -> (start, stop, z, level)

        def compress_domain(self, data: Any, measurements: list[Any]) -> Any:
            self.noisy, self.windows = {}, {}
            supports: dict[str, Array] = {}
            kept = []
            for m in measurements:
                col, y, sigma = m.clique[0], np.asarray(m.noisy_measurement), m.stddev
                sup = y >= 3 * sigma
                if col in grid_columns:
                    widest = WINDOW_OCTAVES * grid_columns[col].per_octave
                    runs, z = best_window(y, float(sigma), widest, grid_columns[col].half)
                    # a far mode: few false bins among ~127 empty ones
                    sup = y >= float(special.ndtri(1 - FALSE_BINS / y.size)) * sigma
                    for start, stop in runs:
                        sup[start:stop] = True
                    self.noisy[col] = (y, float(sigma))
                    start, stop = min(r[0] for r in runs), max(r[1] for r in runs)
                    self.windows[col] = (start, stop, z, located_level(y.size, widest))
                elif sup.sum() < 2 and y.size >= 2:
                    sup[:] = True
                supports[col] = sup
                if sup.all():
                    kept.append(m)
                    continue
                y2 = np.append(y[sup], y[~sup].sum())
                y2[-1] *= 1.0 / np.sqrt(y.size - sup.sum() + 1.0)
                kept.append(LinearMeasurement(y2, m.clique, sigma))
            undo = lambda d: self.reverse_data(d, supports)  # noqa: E731
            return self.transform_data(data, supports), kept, undo

        def reverse_data(self, data: Any, supports: dict[str, Array]) -> Any:
            df = data.df.copy()
            for col in data.domain:
                support = supports[col]
                idx, extra = np.flatnonzero(support), np.flatnonzero(~support)
                p = None
                if col in grid_columns and extra.size:
                    start, stop = self.windows[col][:2]  # the data's tails: an octave a side
                    reach = grid_columns[col].per_octave
                    near = extra[(extra >= start - reach) & (extra < stop + reach)]
                    extra = near if near.size else extra
                    w = spread_weights(*self.noisy[col], extra)
                    if w.sum() > 0:  # where the noisy counts say the merged mass lies
                        p = w / w.sum()
                codes = df[col].to_numpy().astype(np.int64)  # a grid outgrows uint8
                mask = codes == support.sum()
                out = np.empty(len(codes), dtype=np.int64)
                if extra.size:
                    out[mask] = np.random.choice(extra, int(mask.sum()), p=p)
                else:
                    out[mask] = idx[-1]  # not reached: a merged bin always has members
                out[~mask] = idx[codes[~mask]]
                df[col] = out
            sizes = {col: int(supports[col].size) for col in data.domain}
            return Dataset(df, Domain.fromdict(sizes))

    return GridMST(epsilon=epsilon, delta=delta)
