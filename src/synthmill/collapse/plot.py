"""PNG plots of the lab: one panel per metric, one colour per policy.

Solid lines are means over seeds (shaded: +-1 standard error), dotted lines medians,
dashed lines theoretical means and dash-dot lines theoretical medians, each in the legend.
Panels whose values span more than two orders of magnitude use a log y axis.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from synthmill.errors import MissingExtraError

SKIP = {"policy", "generation", "seeds", "train_size"}
COLORS = {
    "replace": "tab:red",
    "accumulate": "tab:blue",
    "keep-real": "tab:green",
    "accumulate-subsample": "tab:purple",
    "verified": "tab:orange",
}
YLABEL = {
    "real_share": "share of real rows (fraction)",
    "mean": "fitted mean (data units)",
    "mean_sq_error": "(mu_t - mu)^2 / sigma^2",
    "var_ratio": "fitted var / true var",
    "log_var_ratio": "log(fitted var / true var)",
    "w2": "W2 to the truth (data units)",
    "l2": "L2 distance to the true density",
    "smallest_weight": "smallest mixture weight",
    "total_variance_ratio": "total var / true total var",
    "valley_density": "density at x = 0",
    "bandwidth": "bandwidth h (data units)",
    "excess_error": "excess test error |w - w*|^2",
    "test_error": "test error (probability mass)",
    "regression.test_error": "test MSE (excess + s^2)",
    "unseen_mass": "unseen probability mass",
    "support": "keys memorized (count)",
    "perplexity": "held-out perplexity (per token)",
    "rare_bigram_recall": "rare real bigrams kept (fraction)",
    "bigram_recall": "real bigrams kept (fraction)",
    "bigram_precision": "model bigrams that are real (fraction)",
    "vocabulary": "vocabulary (word types)",
    "mean_length": "mean sentence length (tokens)",
}


def _metrics(summary: list[dict[str, Any]]) -> list[str]:
    keys = dict.fromkeys(k for entry in summary for k in entry if k not in SKIP)
    return [k for k in keys if not k.startswith("theory_")]


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingExtraError("matplotlib", "lab") from None
    return plt


def plot_family(name: str, result: dict[str, Any], path: Path) -> str:
    """Draw one family's results (summary, and its extra experiments) into `path`."""
    plt = _pyplot()
    summary = result["summary"]
    metrics = _metrics(summary)
    extras = [e for e in ("tail_cut_sweep", "scaling") if result.get(e)]
    panels = len(metrics) + len(extras)
    cols = min(panels, 3)
    rows = math.ceil(panels / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.0 * cols, 3.9 * rows), squeeze=False)
    flat = list(axes.flat)
    for ax, metric in zip(flat, metrics, strict=False):
        _panel(ax, summary, metric, result)
        ax.set_ylabel(YLABEL.get(f"{name}.{metric}", YLABEL.get(metric, metric)), fontsize=8)
    for ax, extra in zip(flat[len(metrics) :], extras, strict=False):
        (_sweep_panel if extra == "tail_cut_sweep" else _scaling_panel)(ax, result[extra])
    for ax in flat[panels:]:
        ax.axis("off")
    seeds = max(e["seeds"] for e in summary)
    theory = any(k.startswith("theory_") for e in summary for k in e) or extras
    fig.suptitle(
        f"collapse lab: {name}, {seeds} seeds per policy "
        f"(solid: mean ± s.e., dotted: median{', dashed: theory' if theory else ''})"
    )
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path.name


def _save(fig: Any, path: Path) -> None:
    """A palette PNG (about a quarter of the RGBA size; line plots need few colours)."""
    buf = io.BytesIO()
    fig.savefig(buf, dpi=80, format="png")
    try:
        from PIL import Image
    except ImportError:  # matplotlib needs Pillow, but keep the plain PNG if it is absent
        path.write_bytes(buf.getvalue())
        return
    with Image.open(buf) as img:
        img.convert("RGB").quantize(colors=96).save(path, optimize=True)


def _series(entries: list[dict[str, Any]], key: str, stat: str) -> list[float]:
    return [e[key][stat] for e in entries]


def _panel(ax: Any, summary: list[dict[str, Any]], metric: str, result: dict[str, Any]) -> None:
    values: list[float] = []
    for policy in dict.fromkeys(e["policy"] for e in summary):
        entries = sorted(
            (e for e in summary if e["policy"] == policy and metric in e),
            key=lambda e: e["generation"],
        )
        gens, color = [e["generation"] for e in entries], COLORS.get(policy)
        mean, sem = _series(entries, metric, "mean"), _series(entries, metric, "sem")
        median = _series(entries, metric, "median")
        ax.plot(gens, mean, color=color, label=f"{policy} mean")
        lo = [m - s for m, s in zip(mean, sem, strict=True)]
        hi = [m + s for m, s in zip(mean, sem, strict=True)]
        ax.fill_between(gens, lo, hi, alpha=0.15, color=color)
        ax.plot(gens, median, ":", color=color, label=f"{policy} median")
        values += mean + median
        for suffix, style, what in (
            ("mean", "--", "theory mean"),
            ("median", "-.", "theory median"),
        ):
            key = f"theory_{metric}_{suffix}"
            if entries and all(key in e for e in entries):
                theory = _series(entries, key, "median")  # identical across seeds
                ax.plot(gens, theory, style, color=color, linewidth=1, label=f"{policy} {what}")
                values += theory
    bound = result.get("accumulate_bound")
    if metric == "excess_error" and bound:
        ax.axhline(bound, color="k", linestyle=":", linewidth=1, label="accumulate bound (π²/6)")
        values.append(bound)
    _scale(ax, values)
    ax.set_title(metric, fontsize=9)
    ax.set_xlabel("generation")
    ax.legend(fontsize=6)


def _scale(ax: Any, values: list[float]) -> None:
    """A log y axis when the positive values span more than a factor of 100."""
    finite = [v for v in values if math.isfinite(v)]
    if finite and min(finite) > 0 and max(finite) / min(finite) > 100:
        ax.set_yscale("log")


def _sweep_panel(ax: Any, sweep: list[dict[str, Any]]) -> None:
    """Test error after one step vs the clean share, per tail cut k (dashed: theory)."""
    for k in dict.fromkeys(e["tail_cut"] for e in sweep):
        rows = [e for e in sweep if e["tail_cut"] == k]
        clean = [e["clean_fraction"] for e in rows]
        means = [sum(e["errors"]) / len(e["errors"]) for e in rows]
        line = ax.plot(clean, means, "o-", label=f"k={k} mean")
        color = line[0].get_color()
        ax.plot(clean, [e["expected"] for e in rows], "--", color=color, label=f"k={k} theory")
    ax.set_title("one step, generator cut at rank k", fontsize=9)
    ax.set_xlabel("clean (real) share of the training rows")
    ax.set_ylabel("test error (probability mass)", fontsize=8)
    ax.set_yscale("log")
    ax.legend(fontsize=6)


def _scaling_panel(ax: Any, scaling: list[dict[str, Any]]) -> None:
    """Tale of Tails: log-log test error vs training rows T, clean and cut at rank k."""
    for k in dict.fromkeys(e["tail_cut"] for e in scaling):
        rows = [e for e in scaling if e["tail_cut"] == k]
        sizes = [e["T"] for e in rows]
        means = [sum(e["errors"]) / len(e["errors"]) for e in rows]
        name = "clean" if k is None else f"cut k={k}"
        color = ax.plot(sizes, means, "o-", label=f"{name} mean")[0].get_color()
        ax.plot(sizes, [e["expected"] for e in rows], "--", color=color, label=f"{name} theory")
    clean = [e for e in scaling if e["tail_cut"] is None]
    if clean and "slope" in clean[0]:
        t0, e0, c = clean[0]["T"], clean[0]["expected"], clean[0]["slope"]
        guide = [e0 * (e["T"] / t0) ** c for e in clean]
        ax.plot([e["T"] for e in clean], guide, "k:", label=f"T^{c:.3f} (asymptotic law)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_title("error vs T (Tale of Tails), one step", fontsize=9)
    ax.set_xlabel("training rows T")
    ax.set_ylabel("test error (probability mass)", fontsize=8)
    ax.legend(fontsize=6)
