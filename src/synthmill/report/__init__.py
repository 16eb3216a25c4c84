"""`synthmill report`: one self-contained HTML file (styles, script, data and charts
inline; opens offline) that shows a run: funnel, rejects, columns, diversity, cost,
verification, tabular evaluation, collapse-lab plots and a row browser."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from synthmill.errors import ConfigError
from synthmill.io.atomic import write_text_atomic
from synthmill.records import META_COLUMN
from synthmill.report import extra, sections
from synthmill.report.assets import BROWSER_JS, CSS
from synthmill.report.closed_loop import closed_loop_section
from synthmill.report.closed_loop import load as load_closed_loop
from synthmill.report.html import e, json_script, section
from synthmill.report.load import (
    RunData,
    is_collapse_folder,
    load_collapse,
    load_run,
    read_path_of,
)
from synthmill.report.profile import profiles, text_columns

BROWSER_BUDGET = 1_500_000  # characters of row JSON; rows are sampled down to fit
DEFAULT_ROWS = 300


def build_report(
    root: Path,
    out: Path | None = None,
    reference: Path | None = None,
    rows: int = DEFAULT_ROWS,
    seed: int = 0,
) -> Path:
    """Write the report of a run directory (or a collapse-lab folder); return its path."""
    if reference is not None:
        extra.check_reference(reference)  # a misspelt reference fails before any work
    target = out or root / "report.html"
    check_target(target)
    if is_collapse_folder(root):
        result = load_collapse(root)
        body = extra.collapse_section(root, result)
        page = _page(f"collapse lab — {root.name}", [("collapse", "Collapse lab")], body)
    else:
        page = render_run(load_run(root, rows, seed), reference, seed)
    write_text_atomic(target, page)
    return target


def check_target(target: Path) -> None:
    """The report is an .html file: any other name could be the run's data, config or
    input (or a dataset of the user's), which the report would replace."""
    if target.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"--out {target}: the report is HTML; end it in .html")
    if target.is_dir():
        raise ConfigError(f"--out {target} is a directory; name an .html file")


def render_run(d: RunData, reference: Path | None, seed: int) -> str:
    """The HTML of a pipeline run's report."""
    profs = profiles(d.table) if d.table is not None else []
    parts = [
        sections.overview(d),
        sections.funnel(d),
        sections.columns(profs, d.table.num_rows if d.table is not None else 0),
        extra.diversity_section(d.table, text_columns(profs), reference, seed),
        sections.cost(d),
        sections.verification(d),
        _tabular(d),
        closed_loop_section(load_closed_loop(d.root)),
        _browser(d),
        sections.config(d),
    ]
    shown = [p for p in parts if p]
    nav = [(a, t) for a, t in NAV if any(f'<section id="{a}"' in p for p in shown)]
    return _page(d.name, nav, "".join(shown), d.status)


NAV = [
    ("overview", "Overview"),
    ("funnel", "Funnel"),
    ("columns", "Columns"),
    ("diversity", "Diversity"),
    ("cost", "Models and cost"),
    ("verification", "Verification"),
    ("tabular", "Tabular"),
    ("closed-loop", "Does it help?"),
    ("browser", "Rows"),
    ("config", "Config"),
]


def _tabular(d: RunData) -> str:
    if d.evaluation is None:
        return ""
    from synthmill.errors import SynthmillError

    real = None
    path = read_path_of(d.config)
    if path is not None and path.is_file():
        try:
            from synthmill.tabular.table import read_table

            real = read_table(path)
        except (SynthmillError, OSError, ImportError):
            real = None
    synth = (
        d.table.drop_columns([META_COLUMN])
        if d.table is not None and META_COLUMN in d.table.column_names
        else d.table
    )
    return extra.tabular_section(d.evaluation, real, synth)


def _browser(d: RunData) -> str:
    """The sampled rows as JSON for the browser script, sampled down to the budget."""
    columns = [c for c in (d.table.column_names if d.table is not None else []) if c != META_COLUMN]
    rows = d.sample
    payload = _payload(rows, d.ancestors, columns, d.table.num_rows if d.table is not None else 0)
    while len(payload) > BROWSER_BUDGET and len(rows) > 10:
        rows = rows[: len(rows) // 2]
        payload = _payload(rows, d.ancestors, columns, d.table.num_rows if d.table else 0)
    controls = (
        '<div class="controls"><input id="q" type="search" placeholder="search rows…" size="40">'
        '<select id="col"><option value="">all columns</option></select>'
        '<select id="origin"><option value="">any origin</option></select>'
        '<span id="count" class="note"></span></div>'
    )
    head = "".join(f"<th>{e(c)}</th>" for c in ["id", *columns])
    grid = f'<table id="rows"><thead><tr>{head}</tr></thead><tbody></tbody></table>'
    note = "A random sample of the kept rows; click a row for its provenance and parents."
    body = controls + grid + json_script("rows-data", json.loads(payload))
    return section("browser", "Rows", body, note)


def _payload(
    rows: list[dict[str, Any]], ancestors: dict[str, Any], columns: list[str], total: int
) -> str:
    value = {"rows": rows, "ancestors": ancestors, "columns": columns, "total": total}
    return json.dumps(value, default=str, ensure_ascii=False)


def _page(title: str, nav: list[tuple[str, str]], body: str, status: str = "") -> str:
    links = "".join(f'<a href="#{e(a)}">{e(t)}</a>' for a, t in nav)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    script = f"<script>{BROWSER_JS}</script>"
    state = f" — {e(status)}" if status else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(title)} — synthmill report</title><style>{CSS}</style></head><body>"
        f"<header><h1>{e(title)}{state}</h1><p class='note'>synthmill report, {when}</p>"
        f"<nav>{links}</nav></header><main>{body}</main>{script}</body></html>\n"
    )
