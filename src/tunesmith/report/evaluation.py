"""What the report's evaluation sections show, read from eval/ (compare.json, errors.json)."""

from __future__ import annotations

from pathlib import Path

from tunesmith.report.bars import grouped_bars_svg
from tunesmith.report.heatmap import heatmap_svg


def evaluation_context(eval_dir: Path) -> dict:
    errors = _read(eval_dir / "errors.json")
    return {
        "errors": errors,
        "bucket_svgs": _bucket_svgs(errors),
        "confusion_svgs": _confusion_svgs(errors),
    }


def _bucket_svgs(errors: dict) -> dict[str, str]:
    """Per-bucket bars of the target metric, one colour per row."""
    svgs = {}
    for group, buckets in errors.get("buckets", {}).items():
        if not buckets:
            continue
        rows = list(buckets[0]["values"])
        labels = [f"{b['bucket']} (n={b['n']})" for b in buckets]
        series = {row: [b["values"][row] for b in buckets] for row in rows}
        svgs[group] = grouped_bars_svg(labels, series)
    labels = errors.get("labels", {})
    per_row = labels.get("rows", {})
    if per_row:
        names = labels["labels"]
        series = {r: [v["per_class"][n]["f1-score"] for n in names] for r, v in per_row.items()}
        svgs["F1 per label"] = grouped_bars_svg(names, series)
    return svgs


def _confusion_svgs(errors: dict) -> dict[str, str]:
    labels = errors.get("labels", {})
    return {
        row: heatmap_svg(labels["labels"], v["confusion"]["matrix"], v["confusion"]["labels"])
        for row, v in labels.get("rows", {}).items()
        if row in ("base", "tuned")
    }


def _read(path: Path) -> dict:
    from tunesmith.artifacts.files import read_json_object

    return read_json_object(path) if path.is_file() else {}
