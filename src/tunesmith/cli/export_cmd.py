"""`tunesmith export RUN --format merged|gguf|int8` and `tunesmith distill RUN`."""

from __future__ import annotations

from pathlib import Path

import typer

from tunesmith.errors import UserError


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("distill")(distill)


def export(
    run: Path = typer.Argument(..., help="A run folder whose train stage finished."),
    formats: list[str] = typer.Option(
        [], "--format", help="merged, gguf or int8 (repeatable); default: the recipe's export."
    ),
    gguf_types: list[str] = typer.Option(
        [], "--gguf-type", help="GGUF tensor type: f16, q8_0, q4_0 (repeatable)."
    ),
    cards: bool = typer.Option(
        False, "--cards", help="Only rewrite the model cards (e.g. after `tunesmith evaluate`)."
    ),
) -> None:
    """Write deployable exports of the tuned model, with model cards and sizes."""
    from tunesmith.export.build import export_run, read_exports
    from tunesmith.export.card import card_inputs, write_cards
    from tunesmith.export.formats import FORMATS
    from tunesmith.progress import console

    recipe, run_dir = finished_run(run)
    with run_lock(run_dir):
        if cards:
            for card in write_cards(recipe, run_dir, read_exports(run_dir.root / "export")):
                console.print(f"model card: {run_dir.root / card}")
            return
        for name in formats:
            if name not in FORMATS:
                raise UserError(f"--format: {_unknown(FORMATS, name)}")
        config = export_config(recipe, formats, gguf_types)
        inputs = card_inputs(recipe, run_dir)  # a damaged one refused before any artefact
        record = export_run(recipe, run_dir, config, progress=console.print)
        for card in write_cards(recipe, run_dir, record, inputs):
            console.print(f"model card: {run_dir.root / card}")
    console.print(
        f"next: tunesmith evaluate {run} (scores each export against the tuned model), then "
        f"tunesmith export {run} --cards (adds those scores to the cards)"
    )


def export_config(recipe, formats: list[str], gguf_types: list[str]):
    """The recipe's export section (or defaults) with the command line's choices."""
    from pydantic import ValidationError

    from tunesmith.config.export import ExportConfig

    values = (recipe.export or ExportConfig()).model_dump()
    values.update({k: v for k, v in (("formats", formats), ("gguf_types", gguf_types)) if v})
    try:
        return ExportConfig(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise UserError(f"export.{where}: {error['msg']}") from None


def distill(
    run: Path = typer.Argument(..., help="A run folder whose train stage finished."),
) -> None:
    """Distil the tuned model into a shallower student (the recipe's distill section)."""
    from tunesmith.artifacts.files import remove
    from tunesmith.distill.stage import run as run_distill
    from tunesmith.distill.stage import scratch
    from tunesmith.progress import console

    recipe, run_dir = finished_run(run)
    if recipe.distill is None:
        recipe = _with_default_distill(recipe)
    with run_lock(run_dir):
        result = run_distill(recipe, run_dir)
        for path in scratch(run_dir):  # as the pipeline does: a later distill starts afresh
            remove(path)
    console.print(f"students written under {run_dir.root / 'distill'}: {result}")
    console.print(f"next: tunesmith evaluate {run} (scores the students with intervals)")


def _with_default_distill(recipe):
    from tunesmith.config.overrides import override_recipe

    return override_recipe(recipe, {"distill": {}}, "tunesmith distill")


def finished_run(run: Path):
    from tunesmith.artifacts import RunDir
    from tunesmith.config import load_recipe

    if not (Path(run) / "recipe.yaml").is_file():
        raise UserError(f"{run}: not a run folder (no recipe.yaml)")
    run_dir = RunDir(run)
    if run_dir.stage_entry("train").get("status") != "done":
        raise UserError(f"{run}: the train stage has not finished; run `tunesmith run` first")
    return load_recipe(Path(run) / "recipe.yaml"), run_dir


def run_lock(run_dir):
    """Held while a command writes into a finished run folder: a `tunesmith run` or another
    command on the same folder is refused with one line instead of writing between its files
    (each stages its new files beside the stage's folder, under one name per folder)."""
    from tunesmith.artifacts.lock import RunLock

    return RunLock(run_dir.root, hint="wait for it to finish")


def _unknown(registry, name: str) -> str:
    from tunesmith.errors import suggest

    return f"unknown export format '{name}'{suggest(name, registry.names())}; known: " + (
        ", ".join(registry.names())
    )
