"""The report's pre-training section, from pretrain/, domain/ and eval/ files (read-only)."""

from __future__ import annotations

from pathlib import Path

from tunesmith.artifacts import RunDir, read_jsonl
from tunesmith.report.plots import line_chart_svg

ROW_ORDER = ("base", "pretrained", "finetune_only", "tuned")


def pretraining_section(run_dir: RunDir) -> dict:
    pretrain = _json(run_dir.root / "pretrain" / "metrics.json")
    if not pretrain:
        return {}
    metrics = _json(run_dir.eval / "metrics.json")
    domain = _json(run_dir.root / "domain" / "metrics.json")
    names = [n for n in ROW_ORDER if n in metrics or n in domain.get("perplexity", {})]
    rows = [
        {
            "name": name,
            "label": domain.get("labels", {}).get(name, name),
            "test": metrics.get(name, {}),
            "domain_ppl": domain.get("perplexity", {}).get(name),
        }
        for name in names
    ]
    history_path = run_dir.root / "pretrain" / "metrics.jsonl"
    history = read_jsonl(history_path) if history_path.is_file() else []
    curves = {
        "training loss": _xy(history, "loss"),
        "held-out domain perplexity": _xy(history, "val_ppl"),
    }
    return {
        "pretrain": pretrain,
        "pretrain_curation_html": _curation_html(pretrain),
        "pretrain_rows": rows,
        "pretrain_metric_names": sorted({k for r in rows for k in r["test"]}),
        "pretrain_svg": "".join(
            line_chart_svg({name: xy}, "optimizer step", name) for name, xy in curves.items()
        ),
    }


def _curation_html(pretrain: dict) -> str:
    """The corpus funnel (documents kept and dropped by each step, by reason) and the check of
    held-out documents copied from trained ones, as the data card shows the data stage's."""
    from tunesmith.report.data_card import PRETRAIN_LEAKAGE, funnel_html, leakage_html

    parts = [
        funnel_html(pretrain.get("funnel", []), "Corpus funnel (documents)"),
        leakage_html(pretrain.get("leakage"), PRETRAIN_LEAKAGE),
    ]
    shown = "".join(p for p in parts if p)
    return f'<div class="tsdc">{shown}</div>' if shown else ""


def _xy(history: list[dict], key: str):
    rows = [r for r in history if key in r]
    return [r["step"] for r in rows], [r[key] for r in rows]


def _json(path: Path) -> dict:
    from tunesmith.artifacts.files import read_json_object

    return read_json_object(path) if path.is_file() else {}
