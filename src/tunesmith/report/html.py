"""Report stage: report/report.html from the files earlier stages wrote."""

from __future__ import annotations

from pathlib import Path

from tunesmith.artifacts import RunDir, atomic_write_text, read_jsonl
from tunesmith.artifacts.files import read_json_object
from tunesmith.config.schema import Recipe
from tunesmith.report.checks import checks_context
from tunesmith.report.classification import classification_context
from tunesmith.report.deploy import deploy_context
from tunesmith.report.evaluation import evaluation_context
from tunesmith.report.plots import line_chart_svg


def environment():
    """The report's templates (always HTML-escaped)."""
    from tunesmith.report.templating import html_templates

    return html_templates("report")


def run(recipe: Recipe, run_dir: RunDir) -> Path:
    page = environment().get_template("report.html.j2").render(**gather(recipe, run_dir))
    out = run_dir.stage("report") / "report.html"
    atomic_write_text(out, page)
    return out


def gather(recipe: Recipe, run_dir: RunDir) -> dict:
    """Everything the page shows, read from the run folder."""
    history = _read_jsonl(run_dir.train / "metrics.jsonl")
    card = _read_json(run_dir.data / "data_card.json")
    return {
        "recipe": recipe,
        "method_line": _method_line(recipe),
        "curriculum": _read_json(run_dir.train / "curriculum.json"),
        "run_name": run_dir.root.name,
        "card": card,
        "data_card_html": _data_card_html(card),
        "train_summary": _read_json(run_dir.train / "summary.json"),
        "metrics": _read_json(run_dir.eval / "metrics.json"),
        "compare": _read_json(run_dir.eval / "compare.json"),
        **evaluation_context(run_dir.eval),
        **classification_context(_read_json(run_dir.eval / "compare.json")),
        "loss_svg": line_chart_svg(
            {"training loss": _xy(history, "loss")}, "optimizer step", "loss"
        ),
        "ppl_svg": line_chart_svg(
            {"validation perplexity": _xy(history, "val_ppl")}, "optimizer step", "perplexity"
        ),
        "timings": run_dir.read_manifest()["stages"],  # its shape checked
        **_pretraining(run_dir),
        **_headline_notes(_read_json(run_dir.eval / "compare.json")),
        "human": _read_json(run_dir.eval / "human.json"),  # `tunesmith human summary`
        "energy": run_dir.read_manifest().get("energy", {}),  # tracking/quality.py
        **checks_context(run_dir.eval),
        **deploy_context(run_dir, _read_json(run_dir.eval / "compare.json")),  # export, distill
    }


def _pretraining(run_dir: RunDir) -> dict:
    """The pre-training section: every row's test metrics and domain perplexity, curves."""
    try:
        from tunesmith.report.pretraining import pretraining_section
    except ImportError:
        return {}
    return pretraining_section(run_dir)


def _headline_notes(compare: dict) -> dict:
    from tunesmith.metrics.direction import direction, small_sample_warning

    n = compare.get("sample_size")
    return {"direction": direction, "small_sample": small_sample_warning(n) if n else None}


def _method_line(recipe: Recipe) -> str:
    from tunesmith.methods import describe

    return describe(recipe.training)


def _xy(history: list[dict], key: str) -> tuple[list[float], list[float]]:
    rows = [r for r in history if key in r]
    return [r["step"] for r in rows], [r[key] for r in rows]


def _data_card_html(card: dict) -> str:
    try:
        from tunesmith.report.data_card import render_data_card
    except ImportError:
        return ""
    return render_data_card(card) if card else ""


def _read_json(path: Path) -> dict:
    return read_json_object(path) if path.is_file() else {}


def _read_jsonl(path: Path) -> list[dict]:
    return read_jsonl(path) if path.is_file() else []


def refresh_report(run_root: Path) -> None:
    """Re-render the report of a run that has one, after a command outside the pipeline
    changed what it shows (`tunesmith evaluate`: new figures and export rows; `human
    summary`: the ratings). A run without a report gets none."""
    recipe_path = run_root / "recipe.yaml"
    if not (run_root / "report" / "report.html").is_file() or not recipe_path.is_file():
        return
    from tunesmith.config import load_recipe

    run(load_recipe(recipe_path), RunDir(run_root))
