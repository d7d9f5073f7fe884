"""Small line charts as inline SVG (matplotlib, no network, no files)."""

from __future__ import annotations

import io


def line_chart_svg(series: dict[str, tuple[list[float], list[float]]], xlabel: str, ylabel: str):
    """An SVG string plotting each named (x, y) series, or '' when there is nothing to plot."""
    if not any(xs for xs, _ in series.values()):
        return ""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    for name, (xs, ys) in series.items():
        if xs:
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]
