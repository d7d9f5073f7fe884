"""The HTML page of `tunesmith compare` (autoescaped: run names and paths are untrusted)."""

from __future__ import annotations


def render_compare_page(report: dict) -> str:
    from tunesmith.report.templating import html_templates

    env = html_templates("report")
    return env.get_template("compare.html.j2").render(report=report)
