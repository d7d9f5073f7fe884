"""The HTML page of `tunesmith compare` (autoescaped: run names and paths are untrusted)."""

from __future__ import annotations


def render_compare_page(report: dict) -> str:
    from jinja2 import Environment, PackageLoader

    env = Environment(loader=PackageLoader("tunesmith", "report"), autoescape=True)
    return env.get_template("compare.html.j2").render(report=report)
