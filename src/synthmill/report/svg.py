"""Small static SVG charts drawn in Python: no JavaScript, no library, a few KB each."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

BAR = "#4e79a7"
KEPT = "#59a14f"
LOST = "#e15759"
SECOND = "#f28e2b"


def _num(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.3g}"


def hbars(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    links: Sequence[str | None] | None = None,
    title: str = "",
    width: int = 560,
    color: str = BAR,
    left: int = 250,
) -> str:
    """Horizontal bars, one per label, each optionally a link (#anchor) to more detail."""
    row, pad = 22, 60
    most = max(left // 6, 8)
    top = max(values, default=0) or 1
    height = row * len(labels) + 8
    parts = [_open(width, height, title)]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = i * row + 4
        w = (width - left - pad) * value / top
        bar = (
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(_clip(label, most))}'
            f"<title>{escape(label)}</title></text>"
            f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" fill="{color}"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + 14}">{_num(value)}</text>'
        )
        link = links[i] if links else None
        parts.append(f'<a href="{escape(link)}">{bar}</a>' if link else bar)
    return "".join(parts) + "</svg>"


def funnel(stages: Sequence[tuple[str, int, int]], *, width: int = 780) -> str:
    """Rows in (light) and kept (green) per stage, the lost share in red, with counts."""
    row, left, pad = 28, 170, 230
    top = max((max(a, b) for _, a, b in stages), default=0) or 1
    height = row * len(stages) + 8
    parts = [_open(width, height, "rows in and kept per stage")]
    for i, (label, rows_in, rows_out) in enumerate(stages):
        y = i * row + 4
        w_in = (width - left - pad) * rows_in / top
        w_out = (width - left - pad) * rows_out / top
        lost = f", {rows_in - rows_out:,} dropped" if rows_in > rows_out else ""
        parts.append(
            f'<g class="stage"><text x="{left - 6}" y="{y + 17}" text-anchor="end">'
            f"{escape(_clip(label, 24))}<title>{escape(label)}</title></text>"
            f'<rect x="{left}" y="{y + 3}" width="{w_in:.1f}" height="{row - 8}" fill="{LOST}" '
            f'opacity="0.35"/><rect x="{left}" y="{y + 3}" width="{w_out:.1f}" '
            f'height="{row - 8}" fill="{KEPT}"/><text x="{left + max(w_in, w_out) + 4:.1f}" '
            f'y="{y + 17}">{rows_out:,} of {rows_in:,}{escape(lost)}</text></g>'
        )
    return "".join(parts) + "</svg>"


def histogram(
    edges: Sequence[float],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str = "",
    width: int = 300,
    height: int = 130,
) -> str:
    """Bars of one or two series over the same bins (shares, so sizes may differ)."""
    bins = len(edges) - 1
    if bins <= 0:
        return ""
    top = max((v for _, vals in series for v in vals), default=0) or 1
    plot_h = height - 30
    slot = (width - 10) / bins
    colors = [BAR, SECOND]
    parts = [_open(width, height, title)]
    for s, (name, vals) in enumerate(series):
        bw = slot / len(series)
        for b, v in enumerate(vals):
            h = plot_h * v / top
            x = 5 + b * slot + s * bw
            tip = f"{name}: {_num(edges[b])}-{_num(edges[b + 1])}: {_num(v)}"
            parts.append(
                f'<rect x="{x:.1f}" y="{plot_h - h + 4:.1f}" width="{max(bw - 1, 1):.1f}" '
                f'height="{h:.1f}" fill="{colors[s % 2]}"><title>{escape(tip)}</title></rect>'
            )
    parts.append(
        f'<text x="5" y="{height - 8}">{_num(edges[0])}</text>'
        f'<text x="{width - 5}" y="{height - 8}" text-anchor="end">{_num(edges[-1])}</text>'
    )
    if len(series) > 1:
        legend = " / ".join(name for name, _ in series)
        parts.append(f'<text x="{width / 2:.0f}" y="{height - 8}" text-anchor="middle">'
                     f"{escape(legend)}</text>")  # fmt: skip
    return "".join(parts) + "</svg>"


def _open(width: int, height: int, title: str) -> str:
    label = escape(title, quote=True)
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{label}">'
        f"<title>{escape(title)}</title>"
    )


def _clip(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"
