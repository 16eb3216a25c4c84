"""The report's "Does the data help?" section: closed_loop.json's arms and loss curves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from synthmill.errors import RunDirError
from synthmill.report import svg
from synthmill.report.html import e, section, table

FILE = "closed_loop.json"


def load(root: Path) -> dict[str, Any] | None:
    """closed_loop.json of a run (written by `synthmill evaluate`), if there is one."""
    path = root / FILE
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path} is damaged ({exc}); run synthmill evaluate again") from exc
    return value if isinstance(value, dict) and value.get("kind") == "closed_loop" else None


def closed_loop_section(result: dict[str, Any] | None) -> str:
    """A table of arms (change in held-out real loss, 95% CI), the comparisons, and two
    charts: held-out loss along training and training loss per step, every seed."""
    if result is None:
        return ""
    rows = []
    for arm in result["arms"]:
        low, high = arm["delta_ci95"]
        rows.append((arm["name"], arm["path"], arm["rows_trained"], arm["format"],
                     f"{arm['delta_mean']:+.4f}", f"{low:+.4f} to {high:+.4f}"))  # fmt: skip
    head = ("arm", "data", "rows", "format", "change in held-out loss", "95% CI")
    verdicts = "".join(f"<li>{e(c['verdict'])}</li>" for c in result["comparisons"])
    s = result["settings"]
    budget = (
        f"{s['steps']} steps of {s['batch_size']} rows, lr {s['lr']}, LoRA rank {s['rank']}, "
        f"seeds {', '.join(map(str, s['seeds']))}; held-out loss before training "
        f"{result['before']:.4f} nats/token on {result['heldout']['rows']} rows."
    )
    heldout = [(arm["name"], [(p[0], p[1]) for p in c["heldout"]])
               for arm in result["arms"] for c in arm["curves"]]  # fmt: skip
    train = [(arm["name"], list(enumerate(c["train"], 1)))
             for arm in result["arms"] for c in arm["curves"]]  # fmt: skip
    body = (
        table(head, rows)
        + (f"<ul>{verdicts}</ul>" if verdicts else "")
        + f"<p>{e(budget)}</p>"
        + svg.lines(heldout, title="held-out real loss by step", y_label="step → held-out loss")
        + svg.lines(train, title="training loss by step", y_label="step → training loss")
        + accuracy_table(result.get("accuracy"))
    )
    return section("closed-loop", "Does the data help?", body, result["scope"])


def accuracy_table(acc: dict[str, Any] | None) -> str:
    """Held-out generated problems solved per family before and after (`--accuracy`)."""
    if not acc:
        return ""
    rows = []
    for family, f in acc["families"].items():
        low, high = f["after_ci95"]
        rows.append((family, f["problems"], f"{f['before']:.2f}", f"{f['after_mean']:.2f}",
                     f"{low:.2f} to {high:.2f}"))  # fmt: skip
    head = ("family", "held-out problems", "accuracy before", "after (mean)", "95% CI")
    note = f"Answers checked by {acc['checker']}. {acc['scope']}"
    return table(head, rows) + f"<p>{e(note)}</p>"
