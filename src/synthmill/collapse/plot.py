"""PNG plots of the lab: one panel per metric, one line per policy (median, quartile band)."""

from __future__ import annotations

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


def _metrics(summary: list[dict[str, Any]]) -> list[str]:
    keys = dict.fromkeys(k for entry in summary for k in entry if k not in SKIP)
    return [k for k in keys if not k.startswith("theory_")]


THEORY = {"excess_error": "theory_excess_error", "log_var_ratio": "theory_log_var_ratio_mean"}


def _theory_key(metric: str) -> str | None:
    return THEORY.get(metric)


def plot_family(name: str, result: dict[str, Any], path: Path) -> str:
    """Draw one family's results (summary, and a tail-cut sweep if any) into `path`."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingExtraError("matplotlib", "lab") from None
    summary = result["summary"]
    metrics = _metrics(summary)
    sweep = result.get("tail_cut_sweep")
    panels = len(metrics) + (1 if sweep else 0)
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=False):
        _panel(ax, summary, metric)
    if sweep:
        _sweep_panel(axes[0][-1], sweep)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"collapse lab: {name} (median and quartiles over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path.name


def _panel(ax: Any, summary: list[dict[str, Any]], metric: str) -> None:
    for policy in dict.fromkeys(e["policy"] for e in summary):
        entries = sorted(
            (e for e in summary if e["policy"] == policy and metric in e),
            key=lambda e: e["generation"],
        )
        gens = [e["generation"] for e in entries]
        color = COLORS.get(policy)
        ax.plot(gens, [e[metric]["median"] for e in entries], label=policy, color=color)
        lo, hi = [e[metric]["q25"] for e in entries], [e[metric]["q75"] for e in entries]
        ax.fill_between(gens, lo, hi, alpha=0.15, color=color)
        theory = _theory_key(metric)
        if theory and all(theory in e for e in entries):
            mean = [e[theory]["median"] for e in entries]
            ax.plot(gens, mean, linestyle="--", color=color, linewidth=1)
    ax.set_title(metric + (" (dashed: theory)" if _theory_key(metric) else ""), fontsize=9)
    ax.set_xlabel("generation")


def _sweep_panel(ax: Any, sweep: list[dict[str, Any]]) -> None:
    """Test error after one step vs the clean share, per tail cut k (dashed: theory)."""
    for k in dict.fromkeys(e["tail_cut"] for e in sweep):
        rows = [e for e in sweep if e["tail_cut"] == k]
        clean = [e["clean_fraction"] for e in rows]
        line = ax.plot(clean, [sum(e["errors"]) / len(e["errors"]) for e in rows], "o-")
        color = line[0].get_color()
        ax.plot(clean, [e["expected"] for e in rows], "--", color=color, label=f"k={k}")
    ax.set_title("one step, tail cut at rank k (dashed: theory)", fontsize=9)
    ax.set_xlabel("clean (real) share")
    ax.set_ylabel("test error")
    ax.legend(fontsize=7)
