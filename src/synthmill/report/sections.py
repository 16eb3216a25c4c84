"""The sections of a run's report: funnel and rejects, columns, cost, verification."""

from __future__ import annotations

from typing import Any

from synthmill.records import META_COLUMN
from synthmill.report import svg
from synthmill.report.html import Raw, e, fmt, pre, section, table
from synthmill.report.load import RunData
from synthmill.report.profile import ColumnProfile

COST_KEYS = (
    ("llm.calls", "calls"),
    ("llm.prompt_tokens", "prompt tokens"),
    ("llm.completion_tokens", "completion tokens"),
    ("llm.failures", "failed calls"),
    ("llm.transient_failures", "transient failures"),
    ("llm.cache_hits", "cache hits"),
    ("llm.paid_before_resume", "paid before resume"),
    ("structured.ok_first_try", "parsed first try"),
    ("structured.ok_after_retry", "parsed after retry"),
    ("structured.failed", "parse failed"),
)


def overview(d: RunData) -> str:
    attempts = d.run.get("attempts") or []
    last = attempts[-1] if attempts else {}
    rows = [
        ("status", d.status),
        ("rows published", d.stats.get("rows", d.table.num_rows if d.table else 0)),
        ("origin", ", ".join(f"{k}: {v:,}" for k, v in (d.stats.get("origin") or {}).items())),
        ("attempts", len(attempts)),
        ("started", attempts[0].get("started", "-") if attempts else "-"),
        ("finished", last.get("finished", "-")),
        ("seed", d.run.get("seed", "-")),
        ("fingerprint", d.run.get("fingerprint", "-")),
        ("synthmill", (last.get("versions") or {}).get("synthmill", "-")),
    ]
    return section("overview", "Overview", table(("", ""), rows, "kv"))


def funnel(d: RunData) -> str:
    stages = [(k, int(v.get("rows_in", 0)), int(v.get("rows_out", 0))) for k, v in d.stages.items()]
    if not stages:
        return section("funnel", "Funnel", "<p>No stage has reported yet.</p>")
    rows = [
        (
            label,
            st.get("rows_in", 0),
            st.get("rows_out", 0),
            st.get("rejected_total", 0),
            _share(st.get("rows_out", 0), st.get("rows_in", 0)),
            st.get("seconds", 0.0),
        )
        for label, st in d.stages.items()
    ]
    body = svg.funnel(stages) + table(
        ("stage", "rows in", "kept", "rejected", "kept share", "seconds"), rows
    )
    return section("funnel", "Funnel", body + _reasons(d))


def _share(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _reasons(d: RunData) -> str:
    """Each stage's reject reasons as a bar chart; a bar leads to example rejected rows."""
    labels, values, links, blocks = [], [], [], []
    for i, (stage, st) in enumerate(d.stages.items()):
        for j, (reason, n) in enumerate(sorted((st.get("rejected") or {}).items())):
            anchor = f"rej-{i}-{j}"
            labels.append(f"{stage}: {reason}")
            values.append(float(n))
            links.append(f"#{anchor}")
            examples = (d.rejects.get(stage) or {}).get(reason, [])
            blocks.append(_reject_block(anchor, stage, reason, int(n), examples))
    if not labels:
        return "<h3>Reject reasons</h3><p>No row was rejected.</p>"
    chart = svg.hbars(labels, values, links=links, title="rejected rows per reason", color=svg.LOST)
    hint = '<p class="note">Click a bar or a reason to see example rejected rows.</p>'
    return f'<h3>Reject reasons</h3>{hint}{chart}<div class="rejects">{"".join(blocks)}</div>'


def _reject_block(anchor: str, stage: str, reason: str, n: int, items: list[Any]) -> str:
    shown = (
        "".join(
            '<div class="example"><h4>raw output / payload</h4>'
            f"{pre(item.get('raw'))}<h4>row</h4>{pre(item.get('row'))}"
            f"<h4>provenance</h4>{pre(item.get(META_COLUMN))}</div>"
            for item in items
        )
        or '<p class="note">No example in rejects/ (written by an older run?).</p>'
    )
    head = f"{e(stage)}: {e(reason)} — {n:,} rows ({len(items)} examples)"
    return f'<details class="reject" id="{e(anchor)}"><summary>{head}</summary>{shown}</details>'


def columns(profs: list[ColumnProfile], total_rows: int) -> str:
    if not profs:
        return section("columns", "Columns", "<p>No published rows to profile.</p>")
    cards = "".join(_column_card(p) for p in profs)
    note = f"Over all {total_rows:,} published rows."
    return section("columns", "Columns", f'<div class="cards">{cards}</div>', note)


def _column_card(p: ColumnProfile) -> str:
    """Categories: a bar per top value; text: lengths; numbers: values (and top values)."""
    facts = f"{p.kind}; nulls {p.null_share:.1%}"
    if p.distinct is not None:
        facts += f"; {p.distinct:,} distinct"
    if p.mean_length is not None:
        facts += f"; mean length {p.mean_length:.0f}"
    if p.kind == "category":
        labels = [v for v, _ in p.top]
        chart = svg.hbars(labels, [float(c) for _, c in p.top], title=f"{p.name}: top values",
                          width=300, left=130)  # fmt: skip
        return _card(p.name, facts, "top values", chart)
    what = "value" if p.kind == "number" else "length (characters)"
    chart = svg.histogram(p.edges, [(what, p.counts)], title=f"{p.name}: {what}")
    repeated = [t for t in p.top if t[1] > 1][:5]
    if p.kind == "number" and p.distinct is not None and p.distinct <= 20:
        chart += table(("top value", "rows"), p.top, "top")
    elif p.kind == "text" and repeated:
        chart += table(("most repeated", "rows"), repeated, "top")
    return _card(p.name, facts, what if p.edges else "", chart)


def _card(name: str, facts: str, what: str, chart: str) -> str:
    label = f"<p class='note'>{e(what)}</p>" if what else ""
    return f'<div class="card"><h3>{e(name)}</h3><p>{e(facts)}</p>{label}{chart}</div>'


def cost(d: RunData) -> str:
    rows, other = [], []
    for label, st in d.stages.items():
        counters = st.get("counters") or {}
        secs = float(st.get("seconds") or 0.0)
        rate = f"{st.get('rows_in', 0) / secs:.1f}" if secs else "-"
        rows.append([label, secs, rate, *(counters.get(k, 0) for k, _ in COST_KEYS)])
        known = {k for k, _ in COST_KEYS}
        other += [(label, k, v) for k, v in counters.items() if k not in known]
    shown = [i for i in range(3, len(COST_KEYS) + 3) if any(r[i] for r in rows)]
    headers = ["stage", "seconds", "rows/s", *(COST_KEYS[i - 3][1] for i in shown)]
    body = table(headers, ([*r[:3], *(r[i] for i in shown)] for r in rows))
    models = d.stats.get("models") or {}
    named = {k: v for k, v in models.items() if k not in ("None", "")}
    body += "<h3>Models (rows per model)</h3>" + (
        table(("model", "rows"), named.items()) if named else "<p>No model made these rows.</p>"
    )
    if other:
        body += "<h3>Other counters</h3>" + table(("stage", "counter", "value"), other)
    body += _versions(d)
    return section("cost", "Models and cost", body)


def _versions(d: RunData) -> str:
    attempts = d.run.get("attempts") or []
    if not attempts:
        return ""
    versions = attempts[-1].get("versions") or {}
    return "<details><summary>package versions</summary>" + table(
        ("package", "version"), versions.items()
    ) + "</details>"  # fmt: skip


def verification(d: RunData) -> str:
    """Stage summaries (pass@k per family and difficulty) and verdict pass rates."""
    parts = []
    for label, st in d.stages.items():
        summary = st.get("summary")
        if isinstance(summary, dict) and summary:
            parts.append(f"<h3>{e(label)}</h3>" + _summary_table(summary))
    rates = _verdict_rates(d)
    if rates:
        parts.append("<h3>Verdicts on the sampled kept rows</h3>" + rates)
    if not parts:
        return ""
    return section("verification", "Verification", "".join(parts))


def _summary_table(summary: dict[str, Any]) -> str:
    groups = {k: v for k, v in summary.items() if isinstance(v, dict)}
    if not groups:
        return table(("key", "value"), summary.items())
    keys = list(dict.fromkeys(k for v in groups.values() for k in v))
    body = table(["group", *keys], ([g, *(v.get(k, "-") for k in keys)] for g, v in groups.items()))
    chart = ""
    passk = next((k for k in keys if k.startswith("pass@")), None)
    if passk:
        top = [g for g in groups if "/" not in g]
        chart = svg.hbars(top, [float(groups[g].get(passk) or 0) for g in top], title=passk)
    return chart + body


def _verdict_rates(d: RunData) -> str:
    counts: dict[str, list[int]] = {}
    for row in d.sample:
        verdicts = (row.get(META_COLUMN) or {}).get("verdicts") or {}
        for stage, v in verdicts.items() if isinstance(verdicts, dict) else []:
            ok = isinstance(v, dict) and bool(v.get("ok"))
            counts.setdefault(stage, [0, 0])[0 if ok else 1] += 1
    return table(
        ("check", "passed", "failed (kept anyway)"), ((k, a, b) for k, (a, b) in counts.items())
    ) if counts else ""  # fmt: skip


def config(d: RunData) -> str:
    body = f"<details open><summary>config.yaml</summary>{pre(d.config_yaml)}</details>"
    if d.card:
        body += f"<details><summary>dataset card (README.md)</summary>{pre(d.card)}</details>"
    return section("config", "Config and card", body)


__all__ = ["Raw", "fmt"]
