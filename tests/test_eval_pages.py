"""Evaluation pages and plots escape untrusted text (labels, paths, task names)."""

from __future__ import annotations

from tunesmith.report.compare_page import render_compare_page
from tunesmith.report.heatmap import heatmap_svg


def test_compare_page_escapes_run_names():
    pair = {
        "a": 0.1,
        "b": 0.2,
        "delta": 0.1,
        "ci_low": 0.05,
        "ci_high": 0.15,
        "p_value": 0.01,
        "test": "paired bootstrap",
        "better": True,
        "worse": False,
        "lower_is_better": False,
        "verdict": "significantly better",
    }
    page = render_compare_page(
        {
            "task": "<script>x</script>",
            "row": "tuned",
            "alpha": 0.05,
            "comparisons": [
                {
                    "a": "runs/<b>a",
                    "b": "runs/b",
                    "n_shared": 3,
                    "n_a": 3,
                    "n_b": 4,
                    "metrics": {"rougeL": pair},
                }
            ],
        }
    )
    assert "<script>x" not in page and "&lt;script&gt;x" in page
    assert "runs/&lt;b&gt;a" in page and "significantly better" in page and "95 %" in page


def test_heatmap_escapes_labels_and_shows_counts():
    svg = heatmap_svg(["<a>", "b"], [[3, 1, 0], [0, 2, 4]], ["<a>", "b", "(not a label)"])
    assert "<a>" not in svg  # every label escaped
    assert "&lt;a&gt;" in svg and svg.count("<rect") == 6 and ">4</text>" in svg
