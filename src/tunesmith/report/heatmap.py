"""Confusion-matrix heat map as inline SVG (no matplotlib, no network); labels escaped."""

from __future__ import annotations

from html import escape


def heatmap_svg(labels: list[str], matrix: list[list[int]], columns: list[str] | None = None):
    """Rows = true labels, columns = predicted (the last may be 'not a label')."""
    columns = columns or labels
    if not labels or not matrix:
        return ""
    cell, left, top = 34, 120, 96
    width, height = left + cell * len(columns) + 10, top + cell * len(labels) + 10
    peak = max((v for row in matrix for v in row), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" style="font:11px sans-serif">',
        f'<text x="{left}" y="12">predicted →</text>',
        f'<text x="4" y="{top - 6}">true ↓</text>',
    ]
    for j, name in enumerate(columns):
        x = left + j * cell + cell / 2
        parts.append(
            f'<text transform="translate({x:.0f},{top - 6}) rotate(-50)">{escape(name[:16])}</text>'
        )
    for i, name in enumerate(labels):
        y = top + i * cell
        parts.append(
            f'<text x="{left - 4}" y="{y + cell / 2 + 4:.0f}" text-anchor="end">'
            f"{escape(name[:18])}</text>"
        )
        for j, value in enumerate(matrix[i]):
            shade = int(255 - 200 * value / peak)
            text = "#fff" if value / peak > 0.6 else "#222"
            parts.append(
                f'<rect x="{left + j * cell}" y="{y}" width="{cell - 1}" height="{cell - 1}" '
                f'fill="rgb({shade},{shade},255)"><title>{escape(name)} → '
                f"{escape(columns[j])}: {value}</title></rect>"
                f'<text x="{left + j * cell + cell / 2:.0f}" y="{y + cell / 2 + 4:.0f}" '
                f'text-anchor="middle" fill="{text}">{value}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
