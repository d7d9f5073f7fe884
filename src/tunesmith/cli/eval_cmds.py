"""`tunesmith evaluate`, `compare` and `refine`: evaluation commands on finished run folders."""

from __future__ import annotations

from pathlib import Path

import typer

# More copies than this make the next run learn a weak bucket's few examples by heart rather
# than from them (and a huge factor wrote gigabytes, or hung building the list, exit 0).
MAX_FACTOR = 10


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
    app.command("compare")(compare)
    app.command("refine")(refine)


def evaluate(
    run: Path = typer.Argument(..., help="A run folder whose train stage finished."),
    split: str = typer.Option(
        "test", "--split", help="Split to score: val (for tuning choices) or test (once)."
    ),
) -> None:
    """Score every row (base, few-shot, tuned, ...) on one split of a finished run."""
    from tunesmith.cli.eval_run import evaluate_run

    evaluate_run(run, split)


def compare(
    runs: list[Path] = typer.Argument(..., help="Two or more finished run folders."),
    html: Path = typer.Option(
        Path("compare.html"), "--html", help="HTML page to write (a .json twin is written too)."
    ),
    row: str = typer.Option("tuned", "--row", help="Which row of each run to compare."),
) -> None:
    """Compare runs on their shared test examples: paired intervals and p-values vs the first."""
    from tunesmith.cli.compare_cmd import compare_runs

    compare_runs(runs, html, row)


def refine(
    run: Path = typer.Argument(..., help="An evaluated run folder."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Folder for the next iteration (default: RUN/refine)."
    ),
    factor: int = typer.Option(
        2,
        min=2,
        max=MAX_FACTOR,
        help=f"Copies of each weak-bucket training example (2 to {MAX_FACTOR}).",
    ),
    review: Path | None = typer.Option(
        None, help="A corrected review.csv: its validation rows join the training data."
    ),
) -> None:
    """Write the next iteration's recipe and data, acting on this run's errors."""
    from tunesmith.cli.outputs import output_folder
    from tunesmith.evaluate.refine import refine as write_refinement
    from tunesmith.progress import console

    out = output_folder(output or Path(run) / "refine")
    plan = write_refinement(Path(run), out, factor, review)
    console.print(
        f"analysed the {plan['analysed_split']} split: {len(plan['weak_buckets'])} weak "
        f"bucket(s); training examples {plan['train_before']} -> {plan['train_after']} "
        f"({plan['oversampled']} oversampled, {plan['corrected_from_review']} corrected)"
    )
    for weak in plan["weak_buckets"]:
        console.print(f"  {weak['group']}: {weak['bucket']}")
    console.print(f"review file: {out / 'review.csv'} (fill corrected_response, pass --review)")
    console.print(f"next: tunesmith run {out / 'recipe.yaml'}")
