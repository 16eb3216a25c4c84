"""The "Does the data help?" section of a dataset card, from closed_loop.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthmill.card import markdown_table, replace_section

SECTION_START = "<!-- synthmill:closed-loop -->"
SECTION_END = "<!-- /synthmill:closed-loop -->"
ARM_COLUMNS = ["arm", "data", "rows", "format", "change in held-out loss", "95% CI"]
FAMILY_COLUMNS = ["family", "problems", "accuracy before", "after (mean)", "95% CI", "per seed"]


def card_section(result: dict[str, Any], json_name: str = "closed_loop.json") -> str:
    """Markdown: the headline change in held-out real loss, a table of arms, the
    comparisons, the budget and the honest scope."""
    s, held = result["settings"], result["heldout"]
    first = result["arms"][0]
    low, high = first["delta_ci95"]
    lines = [
        SECTION_START,
        "## Does the data help? (fine-tuning a small model on it)\n",
        f"Fine-tuning {result['model']['name']} with LoRA on {first['rows_trained']} rows of "
        f"this data changed its loss on {held['rows']} held-out real rows "
        f"(`{result.get('reference_path', held['path'])}`) by **{first['delta_mean']:+.4f} "
        f"nats/token** (95% CI {low:+.4f} to {high:+.4f} over {len(s['seeds'])} seeds; "
        f"before: {result['before']:.4f}).\n",
        *markdown_table(ARM_COLUMNS, map(arm_row, result["arms"]), right={2, 4}),
        "",
    ]
    lines += [f"- {c['verdict']} (paired by seed: {c['delta_difference_mean']:+.4f}, 95% CI "
              f"{c['delta_difference_ci95'][0]:+.4f} to {c['delta_difference_ci95'][1]:+.4f})"
              for c in result["comparisons"]]  # fmt: skip
    lines += [
        f"- Budget per arm and seed: {s['steps']} steps of {s['batch_size']} rows "
        f"(at most {s['max_len']} tokens), AdamW at lr {s['lr']}, LoRA rank {s['rank']} on "
        f"{', '.join(s['lora_targets'])}; seeds {', '.join(map(str, s['seeds']))}; model file "
        f"sha256 {result['model']['sha256'][:16]}…; details in `{json_name}`.",
        f"- Scope: {result['scope']}",
        *accuracy_lines(result.get("accuracy")),
        SECTION_END,
    ]
    return "\n".join(lines) + "\n"


def arm_row(arm: dict[str, Any]) -> list[object]:
    lo, hi = arm["delta_ci95"]
    return [arm["name"], f"`{arm['path']}`", arm["rows_trained"], arm["format"],
            f"{arm['delta_mean']:+.4f}", f"{lo:+.4f} to {hi:+.4f}"]  # fmt: skip


def family_rows(families: dict[str, dict[str, Any]]) -> list[list[object]]:
    return [
        [name, f["problems"], f"{f['before']:.2f}", f"{f['after_mean']:.2f}",
         "{:.2f} to {:.2f}".format(*f["after_ci95"]), ", ".join(f"{v:.2f}" for v in f["after"])]
        for name, f in families.items()
    ]  # fmt: skip


def accuracy_lines(acc: dict[str, Any] | None) -> list[str]:
    """Held-out generated problems solved per family, before and after (mean, 95% CI)."""
    if not acc:
        return []
    lines = [
        "",
        "### Held-out generated problems, before and after\n",
        f"{acc['per_family']} new problems per family from synthmill's generators (none "
        f"equal to a training problem), answered greedily in at most {acc['max_new_tokens']} "
        f"tokens and checked by {acc['checker']}.\n",
        *markdown_table(FAMILY_COLUMNS, family_rows(acc["families"]), right={1, 2, 3}),
        "",
    ]
    if acc["code_families_not_scored"]:
        lines.append(f"- Not scored (code): {', '.join(acc['code_families_not_scored'])}.")
    if acc["families_short"]:
        lines.append(f"- Fewer than {acc['per_family']} new problems left to draw: "
                     f"{', '.join(acc['families_short'])}.")  # fmt: skip
    lines.append(f"- Scope: {acc['scope']}")
    return lines


def update_card(card: Path, result: dict[str, Any], json_name: str = "closed_loop.json") -> None:
    """Put the section into a card, replacing an earlier one."""
    replace_section(card, card_section(result, json_name), SECTION_START, SECTION_END)
