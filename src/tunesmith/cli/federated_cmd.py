"""`tunesmith federated server|client`: a federation of real processes (docs/federated.md).

The server is `tunesmith run` with `federated.server_address` set: it curates the data, serves
the Flower rounds, then evaluates and reports as any run. Each client connects to it and
trains its own partition of the run's training data.
"""

from __future__ import annotations

from pathlib import Path

import typer

from tunesmith.errors import UserError

federated_app = typer.Typer(no_args_is_help=True)
ADDRESS = "127.0.0.1:9092"


def _federated_recipe(recipe: Path, overrides: list[str]):
    from tunesmith.config import load_recipe

    loaded = load_recipe(recipe, overrides)
    if loaded.federated is None:
        raise UserError(f"{recipe}: no federated: section; add one (docs/federated.md)")
    return loaded


@federated_app.command()
def server(
    recipe: Path = typer.Argument(..., help="Recipe YAML with a federated: section."),
    output: Path = typer.Option(..., "--output", "-o", help="Run folder."),
    address: str = typer.Option(ADDRESS, help="host:port the Flower server listens on."),
    overrides: list[str] = typer.Option([], "--set", help="Override a recipe key (repeatable)."),
) -> None:
    """Run the recipe with a Flower server in place of the simulation; waits for the clients."""
    from tunesmith.cli.run_cmd import run_recipe

    overrides = [*overrides, f"federated.server_address={address}"]
    _federated_recipe(recipe, overrides)
    run_recipe(recipe, output, Path("runs"), overrides=overrides)


@federated_app.command()
def client(
    recipe: Path = typer.Argument(..., help="The server's recipe."),
    run: Path = typer.Option(..., "--run", help="The server's run folder (its data/ split)."),
    index: int = typer.Option(..., "--client", min=1, help="Which client this is: 1, 2, ..."),
    address: str = typer.Option(ADDRESS, help="host:port of the Flower server."),
    overrides: list[str] = typer.Option([], "--set", help="Override a recipe key (repeatable)."),
) -> None:
    """One Flower client: trains its partition for every round the server asks."""
    from tunesmith.artifacts import RunDir
    from tunesmith.federated.transport import run_client

    run_client(_federated_recipe(recipe, overrides), RunDir(run), index - 1, address)
