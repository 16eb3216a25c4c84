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


COLORS = (BAR, SECOND, KEPT, LOST, "#76b7b2", "#b07aa1")


def lines(
    series: Sequence[tuple[str, Sequence[tuple[float, float]]]],
    *,
    title: str = "",
    width: int = 560,
    height: int = 220,
    y_label: str = "",
) -> str:
    """Line charts of (x, y) points, one colour per series name, with a legend and the
    y range; a series whose name repeats (seeds of one arm) shares its colour."""
    points = [p for _, pts in series for p in pts]
    if not points:
        return ""
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    left, right, top, bottom = 52, 150, 10, 28
    plot_w, plot_h = width - left - right, height - top - bottom

    def xy(x: float, y: float) -> str:
        px = left + plot_w * ((x - x0) / (x1 - x0) if x1 > x0 else 0.5)
        py = top + plot_h * (1 - ((y - y0) / (y1 - y0) if y1 > y0 else 0.5))
        return f"{px:.1f},{py:.1f}"

    names = list(dict.fromkeys(name for name, _ in series))
    parts = [
        _open(width, height, title),
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#ccc"/>',
        f'<text x="{left - 4}" y="{top + 10}" text-anchor="end">{_num(y1)}</text>'
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">{_num(y0)}</text>'
        f'<text x="{left}" y="{height - 8}">{_num(x0)}</text>'
        f'<text x="{left + plot_w}" y="{height - 8}" text-anchor="end">{_num(x1)}</text>'
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 8}" text-anchor="middle">'
        f"{escape(y_label)}</text>",
    ]
    for name, pts in series:
        color = COLORS[names.index(name) % len(COLORS)]
        path = " ".join(xy(x, y) for x, y in pts)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.5">'
            f"<title>{escape(name)}</title></polyline>"
        )
    for i, name in enumerate(names):
        y = top + 12 + i * 16
        parts.append(
            f'<rect x="{left + plot_w + 10}" y="{y - 9}" width="10" height="10" '
            f'fill="{COLORS[i % len(COLORS)]}"/><text x="{left + plot_w + 24}" y="{y}">'
            f"{escape(_clip(name, 20))}<title>{escape(name)}</title></text>"
        )
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
