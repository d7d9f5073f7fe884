"""The one way tunesmith's pages are rendered: Jinja2, always HTML-escaped, numbers formatted
without failing on a missing value. The report, compare, tune, group pages and the web UI use it.
"""

from __future__ import annotations

MISSING = "–"  # what a number that could not be computed shows as


def html_templates(folder: str):
    """A Jinja2 environment for the templates in `tunesmith/<folder>`.

    Autoescape is always on: select_autoescape() would leave it OFF, since the names end in
    .j2, not in one of its default extensions, and training data is untrusted text.
    """
    from jinja2 import Environment, PackageLoader

    env = Environment(loader=PackageLoader("tunesmith", folder), autoescape=True)
    env.filters["format"] = format_or_missing
    env.filters["target_mark"] = target_mark
    return env


def format_or_missing(pattern: str, *values, **named) -> str:
    """Jinja's `"%.4f"|format(x)`, but a value that could not be computed (null in a run file:
    NaN and infinities are written as null, strict JSON) shows as '–' instead of failing
    the whole page with a TypeError."""
    if any(v is None for v in (*values, *named.values())):
        return MISSING
    return pattern % (named or values)


def target_mark(target: dict) -> str:
    """The verdict's word for the console and the report: a target that could not be judged
    (no such metric, a base value of 0) read 'FAIL target not judged'."""
    if target.get("judged") is False:
        return "NOT JUDGED"
    return "PASS" if target.get("passed") else "FAIL"
