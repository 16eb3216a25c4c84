"""HTML building blocks: every string from a run is escaped here (row text is untrusted)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any


def e(value: Any) -> str:
    """Text for an element or an attribute, escaped (quotes too)."""
    return escape(str(value), quote=True)


def fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) >= 1e4 else f"{value:.4g}"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "") -> str:
    """A plain table; cells are escaped unless wrapped in Raw."""
    head = "".join(f"<th>{e(h)}</th>" for h in headers) if any(headers) else ""
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in r) + "</tr>" for r in rows)
    klass = f' class="{e(cls)}"' if cls else ""
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f"<table{klass}>{thead}<tbody>{body}</tbody></table>"


class Raw(str):
    """HTML that was built (and escaped) here: put into a cell as it is."""


def cell(value: Any) -> str:
    return value if isinstance(value, Raw) else e(fmt(value))


def pre(value: Any) -> str:
    """A value as pretty JSON (or text) in an escaped <pre>."""
    text = value if isinstance(value, str) else json.dumps(value, indent=1, default=str,
                                                           ensure_ascii=False)  # fmt: skip
    return f"<pre>{e(text)}</pre>"


def section(anchor: str, title: str, body: str, note: str = "") -> str:
    lead = f'<p class="note">{e(note)}</p>' if note else ""
    return f'<section id="{e(anchor)}"><h2>{e(title)}</h2>{lead}{body}</section>'


def json_script(element_id: str, value: Any) -> str:
    """Data for the page's script: JSON with <, > and & as escapes, so no text can close
    the <script> element or open a comment, whatever the rows hold."""
    text = json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f'<script type="application/json" id="{e(element_id)}">{text}</script>'


def flatten(value: Any, prefix: str = "", depth: int = 3) -> dict[str, Any]:
    """Nested dicts of scalars as dotted keys (lists and deeper parts as short JSON)."""
    out: dict[str, Any] = {}
    if isinstance(value, dict) and depth > 0:
        for k, v in value.items():
            out |= flatten(v, f"{prefix}.{k}" if prefix else str(k), depth - 1)
    elif isinstance(value, list | dict):
        text = json.dumps(value, default=str, ensure_ascii=False)
        out[prefix] = text if len(text) < 300 else text[:299] + "…"
    else:
        out[prefix] = value
    return out
