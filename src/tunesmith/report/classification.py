"""The report's classification section: the reliability diagram drawn from compare.json."""

from __future__ import annotations

from tunesmith.report.plots import line_chart_svg


def classification_context(compare: dict) -> dict:
    curves = {
        f"{p['label']}": (p["reliability"]["confidence"], p["reliability"]["accuracy"])
        for p in compare.get("probabilities", {}).values()
    }
    if curves:
        curves["perfect calibration"] = ([0.0, 1.0], [0.0, 1.0])
    svg = line_chart_svg(curves, "confidence (top label)", "accuracy") if curves else ""
    return {"reliability_svg": svg}
