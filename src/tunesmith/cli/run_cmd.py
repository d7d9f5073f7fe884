"""`tunesmith run`: resolve the recipe and run folder, run the pipeline, print the headline."""

from __future__ import annotations

import json
from pathlib import Path

from tunesmith.errors import UserError
from tunesmith.progress import console


def bundled_demo() -> Path:
    return Path(__file__).resolve().parent.parent / "recipes" / "demo.yaml"


TARGET_MISSED_EXIT = 3  # `run --fail-under-target`: distinct from 1 (crash) and 2 (bad input)


def _default_recipe(output: Path | None, only: list[str] | None) -> Path:
    """Without a recipe: the run folder's own resolved recipe when resuming one, else the demo."""
    saved = output / "recipe.yaml" if output is not None else None
    if saved is not None and saved.is_file():
        return saved
    if only:  # a new demo folder has no earlier stages for these to run on: refuse, create nothing
        found = f"; {output} is not one (no recipe.yaml)" if output else ""
        needs = "--stages without a recipe needs an existing run folder as --output"
        raise UserError(needs + found)
    return bundled_demo()


def run_recipe(
    recipe_path: Path | None,
    output: Path | None,
    runs_dir: Path,
    only: list[str] | None = None,
    overrides: list[str] = (),
    fail_under_target: bool = False,
) -> None:
    from tunesmith.artifacts import RunDir
    from tunesmith.artifacts.rank import is_writer
    from tunesmith.cli.outputs import output_folder
    from tunesmith.config import load_recipe
    from tunesmith.pipeline import run_pipeline
    from tunesmith.preflight import preflight

    recipe = load_recipe(recipe_path or _default_recipe(output, only), overrides)
    if output is not None:
        output_folder(output)
    from tunesmith.train.distributed import release_workers, run_worker, world_size

    if world_size() > 1 and output is None:
        raise UserError("--output: required under torchrun (every process names one run folder)")
    run_dir = RunDir(output) if output else RunDir.new(runs_dir, recipe.name)
    preflight(recipe, run_dir.root)  # the same checks as `validate`; data warnings come later
    if not is_writer():  # torchrun rank > 0: trains alongside rank 0, writes nothing
        run_worker(recipe, run_dir)
        return
    console.print(f"run folder: [bold]{run_dir.root}[/bold]")

    def on_stage(name: str, status: str, seconds: float) -> None:
        note = "unchanged, skipped" if status == "skipped" else f"done in {seconds:.1f} s"
        console.print(f"  stage [bold]{name}[/bold]: {note}")

    try:
        if recipe.pretrain is not None and recipe.pretrain.compare_without and not only:
            from tunesmith.ablation.driver import run_with_ablation

            outcome = run_with_ablation(recipe, run_dir, on_stage=on_stage)
        else:
            outcome = run_pipeline(recipe, run_dir, on_stage=on_stage, only=only)
    finally:
        release_workers(recipe.model.device)  # ranks still waiting when training was skipped
    compare = print_headline(run_dir, set(outcome))
    if fail_under_target and not compare.get("target", {}).get("passed"):
        console.print(f"target missed: exit code {TARGET_MISSED_EXIT} (--fail-under-target)")
        raise SystemExit(TARGET_MISSED_EXIT)


def print_headline(run_dir, stages: set[str] | None = None) -> dict:
    """The headline table on stdout (progress and logs go to stderr): intervals, direction,
    significance in words, the target verdict; returns compare.json ({} when there is none).
    `stages`: those this command ran or found current (None: all), so figures and a report
    a `--stages` subset left as they were are said to be from an earlier run."""
    from tunesmith.cli.eval_print import figures
    from tunesmith.metrics.direction import small_sample_warning

    out = figures()
    compare_path = run_dir.eval / "compare.json"
    compare = {}
    if compare_path.is_file():
        from tunesmith.cli.eval_print import direction_note, rows_table

        compare = json.loads(compare_path.read_text(encoding="utf-8"))
        times = compare.get("test_evaluations", 1)
        out.print(
            f"\nheld-out test set: {compare['sample_size']} examples "
            f"(test split evaluated {times} time{'s' if times != 1 else ''} in this run folder)"
        )
        if stages is not None and "evaluate" not in stages:
            out.print(f"figures {_not_run_now('evaluate')}")
        if "rows" in compare:
            out.print(rows_table(compare))
            out.print(direction_note(compare["metrics"]))
        target = compare.get("target", {})
        if target:
            mark = "PASS" if target.get("passed") else "FAIL"
            if target.get("judged") is False:  # a base value of 0: no relative gain
                mark = "NOT JUDGED"
            out.print(f"target: [bold]{mark}[/bold] {target['summary']}")
        if compare.get("reused"):
            out.print(_reused_line(compare["reused"]), highlight=False, markup=False)
        warning = small_sample_warning(compare["sample_size"])
        if warning:
            out.print(f"warning: {warning}")
    _print_energy(run_dir)
    _print_privacy(run_dir)
    _print_report_path(run_dir.report / "report.html", stages)
    return compare


def _print_report_path(report: Path, stages: set[str] | None) -> None:
    """The report's path when this command built it or found it current; after a `--stages`
    subset without `report`, where it is from (an earlier run), or that there is none."""
    if stages is None or "report" in stages:
        console.print(f"\nreport: [bold]{report}[/bold]")
    elif report.is_file():  # soft_wrap: the path is not broken across lines
        console.print(f"\nreport: {report} {_not_run_now('report')}", soft_wrap=True)
    else:
        console.print("\nreport: not built (the report stage did not run; add report to --stages)")


def _not_run_now(stage: str) -> str:
    return f"from an earlier run (the {stage} stage did not run now; add {stage} to --stages)"


def _reused_line(reused: dict) -> str:
    """Which rows' outputs were taken again instead of computed (evaluation.reuse)."""
    where = {"run": "this run folder", "machine": "an earlier run on this machine"}
    parts = [
        f"{row} {count} from {where.get(source, source)}"
        for row, sources in reused.items()
        for source, count in sources.items()
    ]
    return "outputs reused (evaluation.reuse): " + ", ".join(parts)


def _print_privacy(run_dir) -> None:
    """federated.privacy: the (epsilon, delta) the federated stage wrote, with its settings."""
    from tunesmith.artifacts.files import read_optional_object

    privacy = (read_optional_object(run_dir.train / "summary.json") or {}).get("privacy")
    if privacy:
        from tunesmith.federated.privacy import describe

        line = f"\ndifferential privacy (federated): {describe(privacy)}"
        console.print(line, highlight=False, markup=False)


def _print_energy(run_dir) -> None:
    from tunesmith.tracking.quality import energy_lines

    lines = energy_lines(run_dir)
    if lines:
        console.print("\nenergy (codecarbon, offline):", highlight=False)
        for line in lines:
            console.print(line, highlight=False, markup=False)
