"""`tunesmith compare RUN_A RUN_B [...]`: paired statistics on shared test examples."""

from __future__ import annotations

from pathlib import Path

from tunesmith.errors import UserError
from tunesmith.progress import console


def compare_runs(runs: list[Path], html: Path, row: str = "tuned") -> dict:
    from tunesmith.artifacts import atomic_write_text, write_json
    from tunesmith.cli.eval_print import figures, pairs_table
    from tunesmith.cli.outputs import output_file
    from tunesmith.config import load_recipe
    from tunesmith.config.tasks import metric_keys
    from tunesmith.evaluate.runs import (
        compare_predictions,
        perplexity_incomparable,
        run_info,
        run_predictions,
        tokenised_alike,
    )
    from tunesmith.report.compare_page import render_compare_page

    if len(runs) < 2:
        raise UserError("compare: give at least two run folders")
    output_file(html, "--html")
    if html.suffix.lower() == ".json":  # the page's JSON twin is written as <name>.json
        raise UserError(f"--html: {html} would be overwritten by the page's JSON; give .html")
    _check_twin(html.with_suffix(".json"))
    first = runs[0]
    rows_first = run_predictions(first, row)
    info = run_info(first)
    recipe = load_recipe(Path(first) / "recipe.yaml")
    ev = recipe.evaluation
    results = []
    for other in runs[1:]:
        rows_other = run_predictions(other, row)
        other_info = run_info(other)
        task = other_info["task"]
        if task != info["task"]:
            raise UserError(f"{other}: task '{task}' differs from {first}'s '{info['task']}'")
        rows_a, rows_b, tokenization = tokenised_alike(
            (first, rows_first, info["tokenization"]),
            (other, rows_other, other_info["tokenization"]),
        )
        for run in tokenization.get("rescored", []):
            console.print(
                f"{run}: ROUGE/BLEU scored again from its saved answers (tokenised "
                "differently from the other run)"
            )
        keys = metric_keys(recipe.metrics())
        apart = perplexity_incomparable(first, other)
        if apart is not None:
            keys = [k for k in keys if k != "perplexity"]
            console.print(apart)
        result = compare_predictions(
            rows_a,
            rows_b,
            keys,
            info["labels"],
            ev.bootstrap_resamples,
            ev.bootstrap_seed,
            ev.alpha,
        )
        note = {"perplexity_left_out": apart} if apart is not None else {}
        results.append({"a": str(first), "b": str(other), **tokenization, **note, **result})
        title = f"{Path(other).name} vs {Path(first).name} ({row}; {result['n_shared']} shared)"
        figures().print(pairs_table(title, result["metrics"], "A", "B"))
    report = {"row": row, "task": info["task"], "alpha": ev.alpha, "comparisons": results}
    html.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(html, render_compare_page(report))
    write_json(html.with_suffix(".json"), report)
    console.print(f"page: [bold]{html}[/bold]")
    return report


def _check_twin(twin: Path) -> None:
    """The page's JSON twin replaces only an earlier comparison: `--html RUN/eval/compare.html`
    would otherwise overwrite the run's own eval/compare.json, its headline figures."""
    from tunesmith.artifacts.files import read_json

    if not twin.exists():
        return
    try:
        earlier = read_json(twin)
    except (UserError, OSError):
        earlier = None
    # a run's own eval/compare.json holds 'comparisons' too, but no 'row' or 'task'
    if not (isinstance(earlier, dict) and {"row", "task", "comparisons"} <= earlier.keys()):
        raise UserError(
            f"--html: the page's JSON twin {twin} exists and is not an earlier comparison; "
            "give another name"
        )
