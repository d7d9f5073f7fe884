"""Tiny inline-SVG bar charts (no matplotlib, no network): histograms and category counts."""

from __future__ import annotations

from html import escape

COLORS = ("#8da0cb", "#fc8d62", "#66c2a5")


def grouped_bars_svg(
    labels: list[str], series: dict[str, list[float]], width: int = 560, height: int = 180
) -> str:
    """Bars per label, one colour per series (e.g. before/after), with a legend."""
    if not labels or not series:
        return ""
    top = max((v for values in series.values() for v in values), default=0) or 1
    pad_left, pad_bottom, pad_top = 44, 34, 18
    plot_w, plot_h = width - pad_left - 8, height - pad_bottom - pad_top
    slot = plot_w / len(labels)
    bar = max(1.0, slot * 0.8 / len(series))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" style="font:11px sans-serif">',
        f'<line x1="{pad_left}" y1="{pad_top + plot_h}" x2="{width - 8}" '
        f'y2="{pad_top + plot_h}" stroke="#999"/>',
        f'<text x="{pad_left - 4}" y="{pad_top + 4}" text-anchor="end">{_num(top)}</text>',
        f'<text x="{pad_left - 4}" y="{pad_top + plot_h}" text-anchor="end">0</text>',
    ]
    for s, (name, values) in enumerate(series.items()):
        color = COLORS[s % len(COLORS)]
        for i, value in enumerate(values):
            h = plot_h * value / top
            x = pad_left + i * slot + slot * 0.1 + s * bar
            parts.append(
                f'<rect x="{x:.1f}" y="{pad_top + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{escape(name)} {escape(labels[i])}: '
                f"{_num(value)}</title></rect>"
            )
        parts.append(
            f'<rect x="{pad_left + s * 90}" y="2" width="10" height="10" fill="{color}"/>'
            f'<text x="{pad_left + s * 90 + 14}" y="11">{escape(name)}</text>'
        )
    step = max(1, len(labels) // 10)
    for i in range(0, len(labels), step):
        x = pad_left + i * slot + slot / 2
        parts.append(
            f'<text x="{x:.1f}" y="{height - pad_bottom + 14}" text-anchor="middle">'
            f"{escape(labels[i][:14])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
