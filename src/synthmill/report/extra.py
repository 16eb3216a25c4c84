"""Report sections that measure: diversity (and tails against real data), tabular fidelity,
and the collapse lab's plots."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from synthmill.errors import ConfigError
from synthmill.measure import diversity, tails
from synthmill.records import META_COLUMN
from synthmill.report import svg
from synthmill.report.html import e, flatten, section, table
from synthmill.report.profile import histogram

DIVERSITY_ROWS = 1000  # rows measured (self-BLEU samples 300; Vendi is cubic in rows)


def texts_of(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    return ["\n".join(str(r.get(c) or "") for c in columns) for r in rows]


def diversity_section(
    table: pa.Table | None, columns: list[str], reference: Path | None, seed: int
) -> str:
    """The `synthmill measure` metrics of the text columns; with a reference, tail coverage."""
    if table is None or not columns:
        note = "No free-text column to measure (diversity is measured on text columns)."
        return section("diversity", "Diversity", f"<p>{e(note)}</p>")
    rows = _sample(table, columns, DIVERSITY_ROWS, seed)
    texts = texts_of(rows, columns)
    metrics: dict[str, Any] = {"rows measured": len(texts), "columns": ", ".join(columns)}
    metrics |= diversity.lexical(texts, 300, seed)
    metrics["embedder"] = "hashed-bow-1024 (synthmill measure --embedder minilm for MiniLM)"
    metrics |= diversity.semantic(diversity.hashed_vectors(texts), 20, seed)
    body = table_of(metrics)
    if reference is not None:
        body += _tails(reference, rows, columns, seed)
    return section("diversity", "Diversity", body)


def table_of(metrics: dict[str, Any]) -> str:
    return table(("metric", "value"), metrics.items())


def _sample(table: pa.Table, columns: list[str], most: int, seed: int) -> list[dict[str, Any]]:
    t = table.select([c for c in table.column_names if c != META_COLUMN])
    if t.num_rows > most:
        picked = np.sort(np.random.default_rng(seed).choice(t.num_rows, most, replace=False))
        t = t.take(pa.array(picked))
    return list(t.to_pylist())


def _reference_rows(path: Path, most: int) -> list[dict[str, Any]]:
    """The first `most` rows of a JSONL, Parquet or CSV file of real data."""
    from synthmill.curate.apply import FileRecords

    rows: list[dict[str, Any]] = []
    for record in FileRecords(path, 0):
        if len(rows) >= most:
            break
        rows.append(record.data)
    return rows


def check_reference(reference: Path) -> None:
    from synthmill.curate.apply import input_files

    input_files(reference, "--reference")


def _tails(reference: Path, synth: list[dict[str, Any]], columns: list[str], seed: int) -> str:
    real = _reference_rows(reference, 5000)
    missing = [c for c in columns if real and c not in real[0]]
    if not real or missing:
        named = ", ".join(missing or columns)
        raise ConfigError(
            f"--reference {reference} has no rows with the column(s) {named} that the run's "
            "text is in; give real data with the same columns"
        )
    report = tails.measure_tails(real, synth, columns, None, seed)
    warn = "".join(f'<p class="warn">⚠ {e(w)}</p>' for w in report.warnings)
    warn = warn or '<p class="ok">No sign of narrowing against the reference.</p>'
    return f"<h3>Tail coverage against {e(reference.name)}</h3>{warn}" + table(
        ("measure", "value"), report.metrics.items()
    )


# ---- tabular --------------------------------------------------------------------------------
def tabular_section(
    evaluation: dict[str, Any], real: pa.Table | None, synth: pa.Table | None
) -> str:
    """evaluation.json read generically: headline tables per part, per-column bars, and
    real-vs-synthetic histograms when the real table is still where the run read it."""
    ev = evaluation.get("evaluation", evaluation)
    parts = []
    for key in ("fidelity", "utility", "privacy"):
        if isinstance(ev.get(key), dict):
            parts.append(f"<h3>{e(key)}</h3>" + _part(ev[key]))
    rest = {k: v for k, v in ev.items() if k not in ("fidelity", "utility", "privacy", "columns")}
    parts.append("<h3>other</h3>" + table(("key", "value"), flatten(rest, depth=2).items()))
    if real is not None and synth is not None:
        parts.append("<h3>Real vs synthetic, per column</h3>" + _compare(real, synth))
    else:
        parts.append('<p class="note">The real table is not where the run read it: no '
                     "real-vs-synthetic histograms.</p>")  # fmt: skip
    return section("tabular", "Tabular: fidelity, utility, privacy", "".join(parts))


def _part(part: dict[str, Any]) -> str:
    scalars = {k: v for k, v in part.items() if not isinstance(v, dict | list)}
    html = table(("metric", "value"), flatten(scalars).items()) if scalars else ""
    for key, value in part.items():
        if (
            isinstance(value, dict)
            and value
            and all(isinstance(v, int | float) for v in value.values())
        ):
            html += svg.hbars(list(value), [float(v) for v in value.values()], title=key)
        elif isinstance(value, dict):
            html += f"<details><summary>{e(key)}</summary>"
            html += table(("key", "value"), flatten(value, depth=2).items()) + "</details>"
    return html


def _compare(real: pa.Table, synth: pa.Table, most: int = 40) -> str:
    cards = []
    for name in [c for c in synth.column_names if c in real.column_names][:most]:
        a, b = real.column(name), synth.column(name)
        if pa.types.is_integer(a.type) or pa.types.is_floating(a.type):
            chart = _numeric_pair(a, b, name)
        else:
            chart = _category_pair(a, b, name)
        cards.append(f'<div class="card"><h3>{e(name)}</h3>{chart}</div>')
    return f'<div class="cards">{"".join(cards)}</div>'


def _numeric_pair(a: pa.ChunkedArray, b: pa.ChunkedArray, name: str) -> str:
    ra = np.asarray(a.drop_null().to_numpy(zero_copy_only=False), dtype=float)
    sb = np.asarray(b.drop_null().to_numpy(zero_copy_only=False), dtype=float)
    edges, _ = histogram(np.concatenate([ra, sb]))
    if not edges:
        return ""
    shares = [np.histogram(x, bins=edges)[0] / max(len(x), 1) for x in (ra, sb)]
    series = [("real", [float(v) for v in shares[0]]), ("synthetic", [float(v) for v in shares[1]])]
    return svg.histogram(edges, series, title=f"{name}: real vs synthetic")


def _category_pair(a: pa.ChunkedArray, b: pa.ChunkedArray, name: str) -> str:
    real = _shares(a.to_pylist())
    synth = _shares(b.to_pylist())
    cats = sorted(real, key=lambda c: -real[c])[:8]
    rows = [(c, f"{real.get(c, 0):.1%}", f"{synth.get(c, 0):.1%}") for c in cats]
    return table(("value", "real", "synthetic"), rows, "top")


def _shares(values: list[Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1 / len(values)
    return out


# ---- collapse lab ---------------------------------------------------------------------------
def collapse_section(root: Path, result: dict[str, Any]) -> str:
    """The lab's final-generation medians per family and policy, and its PNG plots inline."""
    parts = []
    for family, res in (result.get("families") or {}).items():
        parts.append(f"<h3>{e(family)}</h3>" + _final_generation(res.get("summary") or []))
        plot = root / str(res.get("plot") or f"{family}.png")
        if plot.is_file() and plot.suffix == ".png":
            data = base64.b64encode(plot.read_bytes()).decode()
            parts.append(
                f'<img class="plot" alt="{e(family)} plot" src="data:image/png;base64,{data}">'
            )
    for png in sorted(root.glob("*.png")):
        if png.stem not in (result.get("families") or {}):
            data = base64.b64encode(png.read_bytes()).decode()
            parts.append(f'<h3>{e(png.name)}</h3><img class="plot" alt="{e(png.name)}" '
                         f'src="data:image/png;base64,{data}">')  # fmt: skip
    if isinstance(result.get("config"), dict):
        settings = table(("setting", "value"), flatten(result["config"], depth=2).items())
        parts.append(f"<details><summary>settings</summary>{settings}</details>")
    return section("collapse", "Collapse lab", "".join(parts) or "<p>No results.</p>")


def _final_generation(summary: list[dict[str, Any]]) -> str:
    if not summary:
        return "<p>No summary.</p>"
    last = max(int(s.get("generation", 0)) for s in summary)
    entries = [s for s in summary if int(s.get("generation", 0)) == last]
    metrics = [k for k in entries[0] if isinstance(entries[0][k], dict)]
    rows = [
        [s.get("policy"), *((s.get(m) or {}).get("median", "-") for m in metrics)] for s in entries
    ]
    return f"<p class='note'>generation {last}, median over seeds</p>" + table(
        ["policy", *metrics], rows
    )
