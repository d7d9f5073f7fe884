"""`tunesmith run`: resolve the recipe and run folder, run the pipeline, print the headline."""

from __future__ import annotations

import json
from pathlib import Path

from tunesmith.errors import UserError
from tunesmith.progress import console


def bundled_demo() -> Path:
    return Path(__file__).resolve().parent.parent / "recipes" / "demo.yaml"


def run_recipe(recipe_path: Path | None, output: Path | None, runs_dir: Path) -> None:
    from tunesmith.artifacts import RunDir
    from tunesmith.artifacts.rank import is_writer
    from tunesmith.config import load_recipe
    from tunesmith.pipeline import run_pipeline

    recipe = load_recipe(recipe_path or bundled_demo())
    if output is not None and output.exists() and not output.is_dir():
        raise UserError(f"--output: {output} exists and is not a folder")
    from tunesmith.train.distributed import release_workers, run_worker, world_size

    if world_size() > 1 and output is None:
        raise UserError("--output: required under torchrun (every process names one run folder)")
    run_dir = RunDir(output) if output else RunDir.new(runs_dir, recipe.name)
    if not is_writer():  # torchrun rank > 0: trains alongside rank 0, writes nothing
        run_worker(recipe, run_dir)
        return
    console.print(f"run folder: [bold]{run_dir.root}[/bold]")

    def on_stage(name: str, status: str, seconds: float) -> None:
        note = "unchanged, skipped" if status == "skipped" else f"done in {seconds:.1f} s"
        console.print(f"  stage [bold]{name}[/bold]: {note}")

    try:
        run_pipeline(recipe, run_dir, on_stage=on_stage)
    finally:
        release_workers(recipe.model.device)  # ranks still waiting when training was skipped
    print_headline(run_dir)


def print_headline(run_dir) -> None:
    compare_path = run_dir.eval / "compare.json"
    if compare_path.is_file():
        compare = json.loads(compare_path.read_text(encoding="utf-8"))
        console.print(f"\nheld-out test set: {compare['sample_size']} examples")
        for name, row in compare["metrics"].items():
            rel = f" ({100 * row['relative']:+.1f} %)" if row["relative"] is not None else ""
            few = compare.get("few_shot", {}).get("metrics", {}).get(name)
            shot = f"  few-shot {few['base']:.4f}" if few else ""
            console.print(
                f"  {name:<11} base {row['base']:.4f}{shot}  tuned {row['tuned']:.4f}{rel}"
            )
    _print_energy(run_dir)
    console.print(f"\nreport: [bold]{run_dir.report / 'report.html'}[/bold]")


def _print_energy(run_dir) -> None:
    from tunesmith.tracking.quality import energy_lines

    lines = energy_lines(run_dir)
    if lines:
        console.print("\nenergy (codecarbon, offline):", highlight=False)
        for line in lines:
            console.print(line, highlight=False, markup=False)
