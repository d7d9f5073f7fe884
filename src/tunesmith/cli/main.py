"""`tunesmith` command line. Every user mistake ends as one line on stderr and exit code 2."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Fine-tune a language model into a measurably better specialist for one task.",
)
recipe_app = typer.Typer(no_args_is_help=True, help="Recipe helpers.")
app.add_typer(recipe_app, name="recipe")


def _mount_data_commands() -> None:
    try:
        from tunesmith.cli.data_cmd import data_app
    except ImportError:
        return
    app.add_typer(data_app, name="data", help="Curate and inspect data files.")


_mount_data_commands()


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"tunesmith {version('tunesmith')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version."
    ),
) -> None:
    pass


def _mount_ui_commands() -> None:
    from tunesmith.cli.human_cmd import human_app
    from tunesmith.cli.ui_cmd import ui

    # a command, not a group: its help read `tunesmith ui [OPTIONS] COMMAND [ARGS]...` with
    # no command to give, and `tunesmith ui extra` said "No such command"
    app.command("ui", help="Web app over a runs folder (needs the ui extra).")(ui)
    app.add_typer(human_app, name="human", help="Blind human evaluation: summary, CSV sheets.")


_mount_ui_commands()


def _mount_federated_commands() -> None:
    from tunesmith.cli.federated_cmd import federated_app

    app.add_typer(federated_app, name="federated", help="Federated server and client processes.")


_mount_federated_commands()


@app.command()
def run(
    recipe: Path | None = typer.Argument(None, help="Recipe YAML; default: the bundled demo."),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Run folder; an existing one is resumed (finished stages skipped).",
    ),
    runs_dir: Path = typer.Option(Path("runs"), help="Parent of new run folders."),
    stages: str | None = typer.Option(
        None,
        "--stages",
        help="Comma-separated stages to run on an existing run folder (e.g. train,evaluate); "
        "they run even when unchanged. Default: every stage, skipping unchanged ones.",
    ),
    overrides: list[str] = typer.Option(
        [], "--set", help="Override a recipe key: --set training.lora.r=8 (repeatable)."
    ),
    fail_under_target: bool = typer.Option(
        False,
        "--fail-under-target",
        help="Exit with code 3 when evaluation.target is missed (point estimate or the "
        "interval's lower bound), for CI pipelines.",
    ),
) -> None:
    """Run the whole path: data -> train -> evaluate -> report."""
    from tunesmith.cli.run_cmd import run_recipe

    only = _stage_names(stages)
    run_recipe(
        recipe,
        output,
        runs_dir,
        only=only,
        overrides=overrides,
        fail_under_target=fail_under_target,
    )


def _stage_names(stages: str | None) -> list[str] | None:
    """--stages as a list; given but naming none (',,' or '') it is refused, not taken as
    'every stage', which would run the whole pipeline the user asked to narrow."""
    if stages is None:
        return None
    names = [s.strip() for s in stages.split(",") if s.strip()]
    if not names:
        from tunesmith.errors import UserError

        raise UserError(f"--stages {stages!r}: names no stage; give e.g. train,evaluate")
    return names


def _mount_evaluation_commands() -> None:
    from tunesmith.cli.eval_cmds import register

    register(app)


_mount_evaluation_commands()


def _mount_export_commands() -> None:
    from tunesmith.cli.export_cmd import register

    register(app)


_mount_export_commands()


@app.command()
def validate(
    recipe: Path = typer.Argument(..., help="Recipe YAML to check."),
    overrides: list[str] = typer.Option(
        [], "--set", help="Override a recipe key: --set training.lora.r=8 (repeatable)."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Run folder to check is writable (default: runs/)."
    ),
) -> None:
    """Run the pre-flight checks `run` does: keys, files, fields, split, model, output."""
    from tunesmith.cli.validate_cmd import validate_recipe

    validate_recipe(recipe, output, overrides)


@app.command()
def tune(
    recipe: Path = typer.Argument(..., help="Recipe YAML (its `search:` section, or defaults)."),
    trials: int | None = typer.Option(None, help="Trials the study runs to (search.trials)."),
    timeout: str | None = typer.Option(None, help="Wall-clock budget, e.g. 30m, 2h."),
    storage: str | None = typer.Option(
        None, help="Journal file or RDB URL (postgresql://...); default hpo/study.journal."
    ),
    study: str | None = typer.Option(None, help="Study name (default: the recipe name)."),
    worker: bool = typer.Option(False, help="Only run trials (join a shared study)."),
    output: Path = typer.Option(Path("hpo"), "--output", "-o", help="The search's folder."),
) -> None:
    """Search the recipe's hyperparameters with Optuna; write best.yaml and a report."""
    from tunesmith.cli.tune_cmd import tune_recipe

    tune_recipe(
        recipe, output, trials=trials, timeout=timeout, storage=storage, study=study, worker=worker
    )


@app.command()
def group(
    recipe: Path = typer.Argument(..., help="Recipe YAML with a `group:` section."),
    output: Path = typer.Option(
        ..., "--output", "-o", help="The group's folder; an existing one is resumed."
    ),
    overrides: list[str] = typer.Option(
        [], "--set", help="Override a recipe key: --set group.members.seeds=[0,1] (repeatable)."
    ),
) -> None:
    """Train a run group's members, then score its ensembles and adapter merges."""
    from tunesmith.cli.group_cmd import group_recipe

    group_recipe(recipe, output, overrides)


@app.command()
def init(
    directory: Path = typer.Argument(..., help="Folder to create."),
    example: str = typer.Option(
        "demo", help="Starter: demo, wordnet-define, debian-section, chitchat or python-docs."
    ),
) -> None:
    """Write a starter recipe and its example data into DIRECTORY."""
    from tunesmith.cli.init_cmd import write_starter

    write_starter(directory, example)


@app.command()
def cache(
    clear: bool = typer.Option(False, "--clear", help="Delete the saved outputs (models stay)."),
) -> None:
    """Show the machine-wide store of saved model outputs (evaluation.reuse), or empty it."""
    from tunesmith.cli.cache_cmd import show_or_clear

    show_or_clear(clear)


@recipe_app.command("schema")
def recipe_schema() -> None:
    """Print the recipe's JSON Schema."""
    import json

    from tunesmith.config import Recipe

    typer.echo(json.dumps(Recipe.model_json_schema(), indent=2))


@recipe_app.command("docs")
def recipe_docs() -> None:
    """Print the Markdown reference of every recipe key (docs/recipe.md)."""
    from tunesmith.config.docs import recipe_reference

    typer.echo(recipe_reference(), nl=False)


def main() -> None:
    """Console entry point (exit policy: cli/errors.py)."""
    from tunesmith.cli.errors import invoke

    invoke(app)
