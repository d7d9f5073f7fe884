"""The report's deployment tables: exports (size, tokens/s, quality vs the unquantised tuned
model) and distillation (teacher, labels-only student, distilled student), from
export/exports.json, distill/summary.json and eval/compare.json."""

from __future__ import annotations

from pathlib import Path

DEPLOY_FILES = ("export/exports.json", "distill/summary.json")


def deploy_inputs(run_dir) -> list[Path]:
    """The files these tables read, where they exist (the report stage declares them)."""
    return [run_dir.root / name for name in DEPLOY_FILES if (run_dir.root / name).is_file()]


def deploy_context(run_dir, compare: dict | None) -> dict:
    from tunesmith.artifacts.files import read_optional_object

    exports, distill = (read_optional_object(run_dir.root / name) for name in DEPLOY_FILES)
    key = _headline_key(compare)
    context = {"deploy_metric": key, "export_rows": [], "distill_rows": []}
    if exports:
        tuned = {"bytes": exports["tuned"]["bytes_fp32"], **exports["tuned"]}
        context["export_rows"] = [
            _row("tuned", "tuned model (fp32, in memory)", tuned, compare, key)
        ]
        context["export_rows"] += [
            _row(name, a["description"], a, compare, key)
            for name, a in exports["artefacts"].items()
        ]
    if distill:
        names = {
            "teacher": "tuned",
            "labels_only": "student_labels_only",
            "distilled": "student_distilled",
        }
        context["distill_rows"] = [
            {**_row(row, label, distill[label], compare, key), "blocks": distill[label]["blocks"]}
            for label, row in names.items()
            if label in distill
        ]
        context["distill_gain"] = _versus(compare, "student_distilled", "student_labels_only", key)
    return context


def _headline_key(compare: dict | None) -> str | None:
    if not compare:
        return None
    return (compare.get("target") or {}).get("metric") or next(iter(compare["metrics"]), None)


def _row(name: str, label: str, figures: dict, compare: dict | None, key: str | None) -> dict:
    """One table row: size, speed, the metric with its interval, and vs tuned (paired)."""
    metrics = (compare or {}).get("rows", {}).get(name, {}).get("metrics", {})
    versus = _versus(compare, name, "tuned", key)
    return {
        "name": name,
        "label": label,
        "bytes": figures.get("bytes"),
        "tokens_per_second": figures.get("tokens_per_second"),
        "metric": metrics.get(key),
        "versus_tuned": versus,  # this row minus tuned
    }


def _versus(compare: dict | None, row: str, other: str, key: str | None) -> dict | None:
    """`row` minus `other` on `key`, paired (the model cards read it the same way), or None."""
    from tunesmith.stats.compare import paired_difference

    return paired_difference(compare, row, other).get(key)
