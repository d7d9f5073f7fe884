"""`tunesmith` command line. Every user mistake ends as one line on stderr and exit code 2."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from tunesmith.errors import UserError

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
) -> None:
    """Run the whole path: data -> train -> evaluate -> report."""
    from tunesmith.cli.run_cmd import run_recipe

    run_recipe(recipe, output, runs_dir)


@app.command()
def validate(recipe: Path = typer.Argument(..., help="Recipe YAML to check.")) -> None:
    """Check a recipe before training: keys, files, fields, model, memory estimate."""
    from tunesmith.cli.validate_cmd import validate_recipe

    validate_recipe(recipe)


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
def init(
    directory: Path = typer.Argument(..., help="Folder to create."),
    example: str = typer.Option(
        "demo", help="Starter: demo, wordnet-define, debian-section or chitchat."
    ),
) -> None:
    """Write a starter recipe and its example data into DIRECTORY."""
    from tunesmith.cli.init_cmd import write_starter

    write_starter(directory, example)


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
    """Console entry point."""
    try:
        app(standalone_mode=False)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # click's own usage errors
        import click

        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(2)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise
