"""`synthmill collapse reproduce PAPER`: each paper's own setting against its formulas.

Every row is one quantity: the paper's theory value (formula in code, source cited), the
lab's mean over independent seeds with its standard error (s.d. / sqrt(seeds)), and
whether the two agree within 3 standard errors. The lab values come from the same
families and chains that `synthmill collapse run` uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from synthmill.collapse.gaussian import Gaussian, log_chi2_mean
from synthmill.collapse.policies import run_chain
from synthmill.collapse.regression import ACCUMULATE_LIMIT, Regression
from synthmill.collapse.zipf import ZipfMemorizer, draw, log_slope, tail_cut_expected_error
from synthmill.errors import ConfigError

Z = 3.0  # agreement: |lab - theory| <= Z standard errors


@dataclass(frozen=True)
class Row:
    quantity: str
    theory: float
    lab: float
    se: float
    source: str

    @property
    def agrees(self) -> bool:
        return abs(self.lab - self.theory) <= Z * self.se

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "agrees": self.agrees}


def _row(quantity: str, theory: float, values: Any, source: str) -> Row:
    v = np.asarray(values, dtype=float)
    return Row(quantity, theory, float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v))), source)


def _at(rows: list[dict[str, Any]], generation: int, key: str) -> np.ndarray[Any, Any]:
    return np.array([r[key] for r in rows if r["generation"] == generation])


def shumailov(seeds: int) -> dict[str, Any]:
    """Shumailov et al. (Nature 2024), Thm 3.1: a Gaussian refitted with the unbiased
    mean and variance to n = 100 of its own samples per generation (replace)."""
    n, gens = 100, 100
    family = Gaussian(n=n, estimator="unbiased")
    rows = [r for s in range(seeds) for r in run_chain(family, "replace", gens, s)]
    src = "Shumailov 2024 Thm 3.1 (proof)"
    out = [
        _row(f"E[var_t/var], t={t} (martingale)", 1.0, _at(rows, t, "var_ratio"), src)
        for t in (1, 10, 50)
    ]
    t = gens
    log_mean = (t + 1) * log_chi2_mean(n, n - 1)
    out.append(
        _row(
            f"E[log var_t/var], t={t} (median -> 0)",
            log_mean,
            _at(rows, t, "log_var_ratio"),
            src + ": (t+1)(psi((n-1)/2)+log(2/(n-1)))",
        )
    )
    out.append(
        _row(
            f"E[(mu_t-mu)^2]/var, t={t}",
            (t + 1) / n,
            _at(rows, t, "mean_sq_error"),
            src + ": (t+1)/n",
        )
    )
    median = float(np.median(_at(rows, t, "var_ratio")))
    note = (
        f"median var_{t}/var = {median:.3f} vs exp(E log) = {math.exp(log_mean):.3f}: "
        "the typical chain collapses while the mean stays 1"
    )
    return {
        "setting": f"n={n}, unbiased variance, replace, {gens} generations",
        "rows": out,
        "note": note,
    }


def gerstgrasser(seeds: int) -> dict[str, Any]:
    """Gerstgrasser et al. (2024), Sec. 3: OLS on a fixed Gaussian design relabelled by the
    previous fit, d = 10, T = 100 rows per generation, noise s = 1."""
    family, gens = Regression(n=100, d=10, noise=1.0, fixed_design=True), 10
    one = family.one_fit_error()
    replace = [r for s in range(seeds) for r in run_chain(family, "replace", gens, s)]
    acc = [r for s in range(seeds) for r in run_chain(family, "accumulate", gens, s)]
    harmonic = sum(1 / j**2 for j in range(1, gens + 2))
    out = [
        _row(
            f"replace E[excess], {gens} gens",
            (gens + 1) * one,
            _at(replace, gens, "excess_error"),
            "Gerstgrasser 2024 Sec. 3 (replace, after Dohmatob 2024b): (t+1) s^2 d/(T-d-1)",
        ),
        _row(
            f"accumulate E[excess], {gens} gens",
            harmonic * one,
            _at(acc, gens, "excess_error"),
            "Gerstgrasser 2024 Sec. 3, Thm 1: s^2 d/(T-d-1) sum_j 1/j^2",
        ),
    ]
    bound = ACCUMULATE_LIMIT * one
    note = (
        f"accumulate bound pi^2/6 s^2 d/(T-d-1) = {bound:.4f}; lab {out[1].lab:.4f} stays under it"
    )
    return {
        "setting": f"d=10, T=100, s=1, fixed design, {gens} generations",
        "rows": out,
        "note": note,
    }


def dohmatob(seeds: int) -> dict[str, Any]:
    """Dohmatob et al. (ICML 2024, "A Tale of Tails"), Sec. 2: a memorizer of Zipf(1.5)
    data over 10^6 keys, clean and with the generator's tail cut at rank k."""
    family = ZipfMemorizer(keys=1_000_000, beta=1.5)
    p, cdf = family.p, np.cumsum(family.p)
    rng = np.random.default_rng(0)
    sizes = (100, 300, 1000, 3000)  # T**(1/beta) stays far below the 10^6 keys
    errors = np.array([[_clean_error(p, cdf, t, rng) for t in sizes] for _ in range(seeds)])
    src = "exact: sum_i p_i (1-q_i)^T"
    out = [
        _row(f"E_test, clean, T={t}", tail_cut_expected_error(p, t, len(p), 0.0), errors[:, i], src)
        for i, t in enumerate(sizes)
        if t in (100, 3000)
    ]
    slopes = [log_slope(sizes, e) for e in errors]
    exact = log_slope(sizes, [tail_cut_expected_error(p, t, len(p), 0.0) for t in sizes])
    out.append(_row("slope d log E / d log T, T=1e2..3e3", exact, slopes, src + ", fitted"))
    out.append(
        _row(
            "same slope, asymptotic law",
            family.slope_theory(),
            slopes,
            "Tale of Tails Sec. 2 (Hutter 2021): -(1-1/beta)",
        )
    )
    k, t = 100, 10_000
    cut_cdf = np.cumsum(np.where(np.arange(len(p)) < k, p, 0.0))
    cut = [1.0 - p[np.unique(draw(cut_cdf, t, rng))].sum() for _ in range(seeds)]
    out.append(
        _row(f"E_test, tail cut k={k}, T={t}", tail_cut_expected_error(p, t, k, 0.0), cut, src)
    )
    floor = float(p[k:].sum())
    note = (
        f"tail cut k={k}: error {out[-1].lab:.4f} >= the cut mass {floor:.4f} ~ k^-(beta-1) "
        "(their tail-cutting law E ~ T^-c + k^-(beta-1)): more data no longer helps"
    )
    return {"setting": "beta=1.5, 10^6 keys, one step", "rows": out, "note": note}


def _clean_error(p: Any, cdf: Any, t: int, rng: np.random.Generator) -> float:
    return float(1.0 - p[np.unique(draw(cdf, t, rng))].sum())


PAPERS: dict[str, tuple[Callable[[int], dict[str, Any]], int]] = {
    # paper -> (reproduction, default seeds: about a minute on 2 busy cores)
    "shumailov": (shumailov, 2000),
    "gerstgrasser": (gerstgrasser, 2000),
    "dohmatob": (dohmatob, 300),
}


def reproduce(paper: str, seeds: int | None = None) -> dict[str, Any]:
    """Run one paper's reproduction; the result holds its rows and whether all agree."""
    if paper not in PAPERS:
        raise ConfigError(f"unknown paper {paper!r}; use one of {', '.join(PAPERS)}")
    fn, default = PAPERS[paper]
    seeds = default if seeds is None else seeds
    if seeds < 10:
        raise ConfigError("reproduce needs at least 10 seeds for a standard error")
    result = fn(seeds)
    result.update(paper=paper, seeds=seeds, agrees=all(r.agrees for r in result["rows"]))
    return result
