"""`tunesmith data curate|inspect`: run curation from a recipe or on one file, or inspect a file."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from tunesmith.config.curation import CurationConfig
from tunesmith.errors import UserError

data_app = typer.Typer(no_args_is_help=True, help="Curate and inspect data files.")
RECIPE_SUFFIXES = (".yaml", ".yml")
DEFAULT_FILE_STEPS = "clean,dedup"
STEP_NAMES = ", ".join(CurationConfig.model_fields)  # the steps --steps accepts, in help


@data_app.command()
def curate(
    source: Path = typer.Argument(..., help="A recipe (.yaml) or a data file (.jsonl/.csv/...)."),
    steps: str | None = typer.Option(
        None,
        "--steps",
        help=f"Comma-separated steps among {STEP_NAMES}. Recipe: "
        f"default its configured steps; file: default {DEFAULT_FILE_STEPS}.",
    ),
    fields: str | None = typer.Option(
        None,
        "--fields",
        help="File: comma-separated text fields, meta.body a nested one (default: text columns).",
    ),
    label_field: str | None = typer.Option(
        None, "--label-field", help="File: field with the label/target (balance, checks)."
    ),
    set_: list[str] = typer.Option(
        [], "--set", help="Step option, repeatable: --set pii.mode=mask --set dedup.threshold=0.7"
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="File: output .jsonl (default <name>.curated.jsonl). Recipe: run folder.",
    ),
    model: str | None = typer.Option(
        None, "--model", help="File: model for token lengths and paraphrases (alias, folder)."
    ),
    seed: int = typer.Option(0, "--seed", help="File: seed of sampling and augmentation."),
    runs_dir: Path = typer.Option(Path("runs"), help="Recipe: parent of new run folders."),
) -> None:
    """Curate data: a recipe's data stage, or the given steps on one file."""
    from tunesmith.cli.data_print import print_funnel

    step_list = [s.strip() for s in steps.split(",") if s.strip()] if steps else None
    if source.suffix.lower() in RECIPE_SUFFIXES:
        card, where = _curate_recipe(source, step_list, set_, output, runs_dir)
    else:
        card, where = _curate_file(
            source, step_list, fields, label_field, set_, output, model, seed
        )
    print_funnel(card)
    typer.echo(f"wrote {where}")


def _curate_recipe(source, steps, overrides, output, runs_dir):
    from tunesmith.artifacts import RunDir
    from tunesmith.cli.outputs import output_folder
    from tunesmith.config import load_recipe
    from tunesmith.data.curate.adhoc import STEP_KEYS, curation_config
    from tunesmith.data.stage import run

    recipe = load_recipe(source)
    if steps or overrides:
        base = recipe.data.curation
        chosen = steps or [k for k in STEP_KEYS if getattr(base, k) is not None]
        curation = curation_config(chosen, overrides, base)
        data = recipe.data.model_copy(update={"curation": curation})
        recipe = recipe.model_copy(update={"data": data})
    run_dir = RunDir(output_folder(output)) if output else RunDir.new(runs_dir, recipe.name)
    result = run(recipe, run_dir)
    card = json.loads((result.folder / "data_card.json").read_text(encoding="utf-8"))
    return card, result.folder


def _curate_file(source, steps, fields, label_field, overrides, output, model, seed):
    from tunesmith.artifacts.files import recover_swaps_together
    from tunesmith.cli.outputs import output_file
    from tunesmith.data.curate import CurationContext
    from tunesmith.data.curate.adhoc import (
        curate_rows,
        curation_config,
        in_file_shape,
        model_loaders,
        rows_from_file,
    )

    # the output is checked first: curation (models, paraphrases) can take long
    output = output_file(output or source.with_name(_stem(source) + ".curated.jsonl"))
    if output.resolve() == source.resolve():
        raise UserError(f"--output {output}: would overwrite the input file")
    recover_swaps_together(_outputs(output))  # what a killed `data curate -o OUTPUT` left
    config = curation_config(steps or DEFAULT_FILE_STEPS.split(","), overrides)
    rows, text_fields, shape = rows_from_file(source, _split(fields), label_field)
    load_tokenizer, load_model = model_loaders(model)
    ctx = CurationContext(text_fields, label_field, seed, load_tokenizer, load_model)
    kept, card = curate_rows(rows, config, ctx)
    _write_outputs(output, in_file_shape(kept, shape), card, ctx.log)
    return card, output


def _outputs(output: Path) -> list[Path]:
    """`data curate FILE -o OUTPUT`'s files, in the order they replace the earlier ones: the
    rows, the log, the card page, and last the card, which names the others by hash."""
    base = output.with_name(_stem(output))
    others = [".log.jsonl", ".card.html", ".card.json"]
    return [output] + [base.with_name(base.name + suffix) for suffix in others]


def _write_outputs(output: Path, rows: list[dict], card: dict, log: list[dict]) -> None:
    """The four files replaced together (files.swapped_together): a kill or Ctrl-C at any point
    leaves the earlier set or, once the next `data curate -o OUTPUT` ran, the new one; never
    new rows beside the earlier card. The card records the sha256 of the other three, so a
    reader can tell they belong together."""
    from tunesmith.artifacts import atomic_write_text, write_json, write_jsonl
    from tunesmith.artifacts.files import content_sha256, swapped_together
    from tunesmith.report.data_card import render_data_card

    targets = _outputs(output)
    page = f"<!doctype html><meta charset='utf-8'><title>data card</title>{render_data_card(card)}"
    with swapped_together(targets) as (rows_at, log_at, page_at, card_at):
        write_jsonl(rows_at, rows)
        write_jsonl(log_at, log)
        atomic_write_text(page_at, page)
        files = {t.name: content_sha256(s) for t, s in zip(targets, (rows_at, log_at, page_at))}
        card["files"] = files
        write_json(card_at, card)  # last: once it is written, the set is


@data_app.command()
def inspect(
    file: Path = typer.Argument(..., help="Data file (.jsonl/.csv/.parquet, optionally .gz)."),
    fields: str | None = typer.Option(
        None,
        "--fields",
        help="Comma-separated text fields, meta.body a nested one (default: its text columns).",
    ),
    label_field: str | None = typer.Option(None, "--label-field", help="Label/target field."),
    threshold: float = typer.Option(0.8, help="Near-duplicate Jaccard threshold."),
    pii: bool = typer.Option(True, "--pii/--no-pii", help="Count PII (pattern recognizers)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Statistics and checks of a data file, without changing anything."""
    from tunesmith.cli.data_print import print_inspection
    from tunesmith.data.curate import CurationContext
    from tunesmith.data.curate.adhoc import rows_from_file
    from tunesmith.data.curate.inspect_file import inspect_rows
    from tunesmith.models.truncation import warn

    if not 0 < threshold <= 1:
        raise UserError(f"--threshold {threshold}: must be in (0, 1]")
    rows, text_fields, _ = rows_from_file(file, _split(fields), label_field)
    warn(_card_mismatch(file))
    ctx = CurationContext(text_fields, label_field, 0)
    report = inspect_rows(rows, ctx, threshold=threshold, pii=pii)
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_inspection(file, report)


def _card_mismatch(file: Path) -> str | None:
    """A warning when the data card `data curate` wrote beside FILE records another version of
    it: an interrupted `data curate` (its next run finishes the set) or an edit since."""
    from tunesmith.artifacts.files import content_sha256, read_json_object

    card = _outputs(file)[-1]
    if not card.is_file():
        return None
    try:
        files = read_json_object(card).get("files")
    except UserError:
        return None  # a damaged card says nothing about FILE; inspect looks at FILE alone
    recorded = files.get(file.name) if isinstance(files, dict) else None
    if recorded is None or recorded == content_sha256(file):
        return None
    return (
        f"{card} describes another version of {file.name} (a `data curate` interrupted "
        "midway, or the file was changed since): run `tunesmith data curate` again"
    )


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _stem(path: Path) -> str:
    name = path.name.removesuffix(".gz")
    return name.rsplit(".", 1)[0] if "." in name else name
