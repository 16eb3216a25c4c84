"""The "Does the data help?" section of a dataset card, from closed_loop.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthmill.io.atomic import write_text_atomic

SECTION_START = "<!-- synthmill:closed-loop -->"
SECTION_END = "<!-- /synthmill:closed-loop -->"


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
        "| arm | data | rows | format | change in held-out loss | 95% CI |",
        "|---|---|---:|---|---:|---|",
    ]
    for arm in result["arms"]:
        lo, hi = arm["delta_ci95"]
        lines.append(
            f"| {arm['name']} | `{arm['path']}` | {arm['rows_trained']} | {arm['format']} | "
            f"{arm['delta_mean']:+.4f} | {lo:+.4f} to {hi:+.4f} |"
        )
    lines.append("")
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
        "| family | problems | accuracy before | after (mean) | 95% CI | per seed |",
        "|---|---:|---:|---:|---|---|",
    ]
    for family, f in acc["families"].items():
        low, high = f["after_ci95"]
        lines.append(
            f"| {family} | {f['problems']} | {f['before']:.2f} | {f['after_mean']:.2f} | "
            f"{low:.2f} to {high:.2f} | {', '.join(f'{v:.2f}' for v in f['after'])} |"
        )
    lines.append("")
    if acc["code_families_not_scored"]:
        lines.append(f"- Not scored (code): {', '.join(acc['code_families_not_scored'])}.")
    if acc["families_short"]:
        lines.append(f"- Fewer than {acc['per_family']} new problems left to draw: "
                     f"{', '.join(acc['families_short'])}.")  # fmt: skip
    lines.append(f"- Scope: {acc['scope']}")
    return lines


def update_card(card: Path, result: dict[str, Any], json_name: str = "closed_loop.json") -> None:
    """Put the section into a card, replacing an earlier one."""
    section = card_section(result, json_name)
    text = card.read_text(encoding="utf-8")
    if SECTION_START in text and SECTION_END in text:
        head, rest = text.split(SECTION_START, 1)
        text = head + section + rest.split(SECTION_END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    write_text_atomic(card, text)
