"""Tail coverage: how much of the real data's tail a synthetic dataset still covers.

Collapse shows first in the tails (Shumailov et al. 2024): rare phrases, rare categories
and unusual lengths go missing while the common ones stay. Each measure is compared with
what a faithful sample of the same size would give, so a small synthetic set is not
blamed for being small:
- rare n-gram recall: the share of the real data's rare n-grams the synthetic data uses,
  against an independent real sample of the same size (a split-half estimate);
- rare category recall: the share of rare categories present, against the expectation
  1 - (1 - p)^m for a faithful sample of m rows;
- length distribution: Wasserstein-1 distance and the ratio of standard deviations;
- embedding coverage (Naeem et al. 2020), when embeddings are given: the share of real
  rows whose k-nearest-neighbour ball holds a synthetic row.
A report carries warnings when the synthetic data has narrowed.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synthmill.card import markdown_table, replace_section

NARROW = 0.5  # warn below half of what a faithful sample of the same size reaches
_TOKEN = re.compile(r"\w+")
SECTION_START, SECTION_END = "<!-- tails -->", "<!-- /tails -->"


@dataclass
class TailReport:
    """Tail metrics (name -> number) and the warnings they raise."""

    metrics: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"tails": self.metrics, "tail_warnings": self.warnings}


def _grams(text: str, n: int) -> list[tuple[str, ...]]:
    toks = _TOKEN.findall(text.lower())
    return [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]


def _counts(texts: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(g for t in texts for g in _grams(t, n))


def _recall(targets: set[Any], texts: Sequence[str], n: int) -> float:
    if not targets:
        return 1.0
    return len(targets & set(_counts(texts, n))) / len(targets)


def rare_ngram_recall(
    real: Sequence[str], synthetic: Sequence[str], n: int = 2, rare_max: int = 2, seed: int = 0
) -> dict[str, float]:
    """Recall of the real data's rare n-grams (count <= rare_max), with a faithful baseline.

    Baseline: split the real rows in halves A and B; the rare n-grams of A are looked up in
    m rows of B and in m synthetic rows (m = the smaller size). Their ratio is near 1 for
    synthetic data as varied as real data, and falls when the tail is gone.
    """
    counts = _counts(real, n)
    rare = {g for g, c in counts.items() if c <= rare_max}
    common = set(counts) - rare
    order = np.random.default_rng(seed).permutation(len(real))
    half_a = [real[i] for i in order[::2]]
    half_b = [real[i] for i in order[1::2]]
    synth = [synthetic[i] for i in np.random.default_rng(seed).permutation(len(synthetic))]
    m = min(len(half_b), len(synth))
    rare_a = {g for g, c in _counts(half_a, n).items() if c <= rare_max}
    baseline = _recall(rare_a, half_b[:m], n)
    against = _recall(rare_a, synth[:m], n)
    return {
        f"rare_{n}gram_reference": len(rare_a),
        f"rare_{n}gram_warn_below": warn_below(against, baseline, len(rare_a)),
        f"rare_{n}gram_recall": _recall(rare, synthetic, n),
        f"common_{n}gram_recall": _recall(common, synthetic, n),
        f"rare_{n}gram_recall_same_size": against,
        f"rare_{n}gram_recall_real_baseline": baseline,
        f"rare_{n}gram_tail_ratio": against / baseline if baseline else 1.0,
    }


def warn_below(a: float, b: float, targets: int) -> float:
    """The tail ratio a / b under which to warn: 0.8, or lower when the ratio is noisy.

    Treating each recall as a binomial share of `targets` n-grams, the ratio's relative
    variance is about (1 - a) / (a N) + (1 - b) / (b N); warn only 4 standard errors out.
    """
    if a <= 0 or b <= 0 or targets == 0:
        return 0.8
    se = math.sqrt((1 - a) / (a * targets) + (1 - b) / (b * targets))
    return max(0.0, 1.0 - max(0.2, 4 * se))


def rare_category_recall(
    real: Sequence[Any], synthetic: Sequence[Any], rare_share: float = 0.05
) -> dict[str, float]:
    """Recall of categories rarer than rare_share, against a faithful sample's expectation."""
    counts = Counter(real)
    total = sum(counts.values())
    rare = {c: k / total for c, k in counts.items() if k / total < rare_share}
    if not rare:
        return {}
    seen = set(synthetic)
    m = len(synthetic)
    expected = float(np.mean([1 - (1 - p) ** m for p in rare.values()]))
    recall = sum(c in seen for c in rare) / len(rare)
    return {
        "rare_category_recall": recall,
        "rare_category_expected": expected,
        "rare_category_ratio": recall / expected if expected else 1.0,
    }


def length_distance(real: Sequence[str], synthetic: Sequence[str]) -> dict[str, float]:
    """Word-length distributions: W1 distance over the real mean, and the s.d. ratio."""
    a = np.sort([len(_TOKEN.findall(t)) for t in real]).astype(float)
    b = np.sort([len(_TOKEN.findall(t)) for t in synthetic]).astype(float)
    if not len(a) or not len(b):
        return {}
    q = np.linspace(0, 1, 201)
    w1 = float(np.mean(np.abs(np.quantile(a, q) - np.quantile(b, q))))
    return {
        "length_w1_relative": w1 / max(float(a.mean()), 1.0),
        "length_std_ratio": float(b.std()) / float(a.std()) if a.std() else 1.0,
    }


def embedding_coverage(
    real: np.ndarray[Any, Any], synthetic: np.ndarray[Any, Any], k: int = 5
) -> float:
    """Naeem et al. (2020) coverage: real rows with a synthetic row inside their k-NN ball.

    About 1 - 2^-k (0.97 for k = 5) when both come from one distribution in equal numbers.
    """
    if len(real) <= k or not len(synthetic):
        return 0.0
    real_d = _distances(real, real)
    radius = np.sort(real_d, axis=1)[:, k]  # column 0 is the row itself
    nearest = _distances(real, synthetic).min(axis=1)
    return float(np.mean(nearest <= radius))


def _distances(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    sq = (a**2).sum(1)[:, None] - 2 * a @ b.T + (b**2).sum(1)[None]
    return np.asarray(np.sqrt(np.maximum(sq, 0.0)))


def categorical_columns(rows: Sequence[dict[str, Any]], skip: Sequence[str]) -> list[str]:
    """Columns that look categorical: strings, ints or bools with at most 50 values."""
    out = []
    for col in dict.fromkeys(k for r in rows for k in r):
        if col in skip or col.startswith("_"):
            continue
        values = [r.get(col) for r in rows]
        plain = all(isinstance(v, str | int | bool) for v in values if v is not None)
        if (
            plain
            and any(v is not None for v in values)
            and len(set(values)) <= min(50, len(rows) // 2)
        ):
            out.append(col)
    return out


def _warnings(metrics: dict[str, float]) -> list[str]:
    out = []
    ratio, limit = metrics.get("rare_2gram_tail_ratio"), metrics.get("rare_2gram_warn_below")
    if ratio is not None and limit is not None and ratio < limit:
        out.append(f"narrowed (text): rare 2-grams at {ratio:.0%} of what as much real data covers")
    checks = [
        ("rare_category_ratio", "rare categories", "of what a faithful sample would cover"),
        ("length_std_ratio", "the spread of lengths", "of the real spread"),
        ("embedding_coverage", "real rows near a synthetic one", "(Naeem coverage)"),
    ]
    for key, what, of in checks:
        hits = [k for k in metrics if k.endswith(key)]
        for k in hits:
            if metrics[k] < NARROW:
                where = k[: -len(key)].strip("_.") or "data"
                out.append(f"narrowed ({where}): {what} at {metrics[k]:.0%} {of}")
    return out


def measure_tails(
    real: Sequence[dict[str, Any]],
    synthetic: Sequence[dict[str, Any]],
    text_columns: Sequence[str] = ("text",),
    embeddings: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] | None = None,
    seed: int = 0,
) -> TailReport:
    """Every tail measure of synthetic rows against real rows, and the warnings."""
    metrics: dict[str, float] = {"reference_rows": len(real), "rows": len(synthetic)}
    real_text = ["\n".join(str(r.get(c) or "") for c in text_columns) for r in real]
    synth_text = ["\n".join(str(r.get(c) or "") for c in text_columns) for r in synthetic]
    if any(t.strip() for t in real_text):
        metrics |= rare_ngram_recall(real_text, synth_text, 2, seed=seed)
        metrics |= length_distance(real_text, synth_text)
    for col in categorical_columns(real, text_columns):
        found = rare_category_recall([r.get(col) for r in real], [s.get(col) for s in synthetic])
        metrics |= {f"{col}.{k}": v for k, v in found.items()}
    if embeddings is not None:
        metrics["embedding_coverage"] = embedding_coverage(*_cap(embeddings, 2000, seed))
    return TailReport(metrics, _warnings(metrics))


def _cap(
    pair: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]], most: int, seed: int
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """At most `most` rows of each (coverage is quadratic in the real rows)."""
    rng = np.random.default_rng(seed)
    return tuple(  # type: ignore[return-value]
        x[np.sort(rng.choice(len(x), most, replace=False))] if len(x) > most else x for x in pair
    )


def card_section(report: TailReport, reference: str) -> str:
    """The report as a Markdown section of a dataset card, warnings first."""
    lines = [SECTION_START, f"## Tail coverage against `{reference}`\n"]
    lines += [f"> **Warning:** {w}" for w in report.warnings] or ["No sign of narrowing."]
    rows = [(k, f"{v:.4g}") for k, v in report.metrics.items()]
    lines += ["", *markdown_table(["measure", "value"], rows, right={1})]
    return "\n".join([*lines, SECTION_END]) + "\n"


def run_dir_of(path: Path) -> Path | None:
    """The synthmill run directory that holds `path` (itself, or up to two levels up)."""
    for candidate in [path, *path.absolute().parents][:3]:
        if (candidate / "run.json").exists() and (candidate / "README.md").exists():
            return candidate
    return None


def update_card(card: Path, section: str) -> None:
    """Put the tail section into a card, replacing an earlier one."""
    replace_section(card, section, SECTION_START, SECTION_END)


def report_json(report: TailReport) -> str:
    return json.dumps(report.to_dict(), indent=2) + "\n"


Embed = Callable[[list[str]], "np.ndarray[Any, Any] | None"]


def _rows(path: Path, limit: int | None) -> list[dict[str, Any]]:
    from synthmill.curate.apply import FileRecords, input_files

    input_files(path, "--reference")  # a file, a folder, a glob or a run directory
    rows: list[dict[str, Any]] = []
    for record in FileRecords(path, 0):
        if limit is not None and len(rows) >= limit:
            break
        rows.append(record.data)
    return rows


def against_reference(
    src: Path,
    reference: Path,
    columns: Sequence[str],
    limit: int | None = None,
    seed: int = 0,
    embed: Embed | None = None,
) -> dict[str, Any]:
    """`synthmill measure SRC --reference REAL`: tail metrics and warnings, flattened.

    When SRC lies in a synthmill run directory, its card gets a tail-coverage section.
    """
    synth, real = _rows(src, limit), _rows(reference, limit)
    embeddings = None
    if embed is not None:
        a = embed(["\n".join(str(r.get(c) or "") for c in columns) for r in real])
        b = embed(["\n".join(str(r.get(c) or "") for c in columns) for r in synth])
        embeddings = None if a is None or b is None else (a, b)
    report = measure_tails(real, synth, columns, embeddings, seed)
    out: dict[str, Any] = {f"tail.{k}": v for k, v in report.metrics.items()}
    out["tail.warnings"] = "; ".join(report.warnings) or "none"
    run = run_dir_of(src)
    if run is not None:
        update_card(run / "README.md", card_section(report, reference.name))
        out["tail.card"] = str(run / "README.md")
    return out
