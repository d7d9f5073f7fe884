"""`tunesmith tune`: load the recipe, run the search driver, print where the results are."""

from __future__ import annotations

from pathlib import Path

from tunesmith.progress import console


def tune_recipe(recipe_path: Path, hpo_dir: Path, **options) -> dict:
    from tunesmith.cli.outputs import output_folder
    from tunesmith.config import load_recipe
    from tunesmith.tune.driver import TuneOptions, tune

    recipe = load_recipe(recipe_path)
    output_folder(hpo_dir)
    console.print(f"search folder: [bold]{hpo_dir}[/bold]")
    summary = tune(recipe, TuneOptions(hpo_dir=hpo_dir, **options))
    counts = ", ".join(f"{n} {state}" for state, n in sorted(summary["counts"].items()))
    from tunesmith.cli.eval_print import figures, pairs_table

    out = figures()  # the figures on stdout, the folders and progress on stderr
    out.print(f"\nstudy {summary['study']}: {counts}")
    if "best" in summary:
        best = summary["best"]
        out.print(f"best trial {best['number']}: {best['value']:.6g}  {best['values']}")
    final = summary.get("final")
    if final:
        title = f"test split: best vs default ({final['n_shared']} shared examples)"
        out.print(pairs_table(title, final["metrics"], "default", "best"))
    if not options.get("worker"):
        console.print(f"best recipe: [bold]{hpo_dir / 'best.yaml'}[/bold]")
        console.print(f"report: [bold]{hpo_dir / 'report.html'}[/bold]")
    return summary
