"""`tunesmith human`: blind-rating summaries and offline CSV sheets, from the command line."""

from __future__ import annotations

from pathlib import Path

import typer

from tunesmith.errors import UserError

human_app = typer.Typer(no_args_is_help=True)


def _run_root(run: Path) -> Path:
    if not (run / "eval").is_dir():
        raise UserError(f"{run}: not an evaluated run folder (no eval/)")
    return run


@human_app.command("summary")
def summary(run: Path = typer.Argument(..., help="Run folder.")) -> None:
    """Win rate (Wilson 95 %), sign test, ties, position bias, agreement -> eval/human.json."""
    from tunesmith.human.summary import write_summary

    out, data = write_summary(_run_root(run))
    for row in data["comparisons"]:
        rate = row["win_rate"]
        shown = "–" if rate["value"] is None else f"{100 * rate['value']:.1f} %"
        interval = (
            ""
            if rate["value"] is None
            else (f" [{100 * rate['ci_low']:.1f}, {100 * rate['ci_high']:.1f}]")
        )
        p = row["sign_test_p"]
        typer.echo(
            f"{row['label']}: win rate {shown}{interval} (n {rate['n']}), ties {row['ties']}, "
            f"both bad {row['both_bad']}, sign test p {'–' if p is None else f'{p:.4g}'}"
        )
    typer.echo(f"written: {out}")


@human_app.command("export")
def export(
    run: Path = typer.Argument(..., help="Run folder."),
    session: str = typer.Option(
        ...,
        help="Session name: an existing one is used with its own systems; a new one is "
        "created comparing tuned vs base.",
    ),
    output: Path = typer.Option(..., "--output", "-o", help="CSV file to write."),
    rater: str | None = typer.Option(None, help="Leave out items this rater already rated."),
) -> None:
    """Write a blind rating sheet (CSV) for a rater who works offline."""
    from tunesmith.artifacts import atomic_write_text
    from tunesmith.cli.outputs import output_file
    from tunesmith.human.session import Session
    from tunesmith.human.sheet import export_sheet

    output_file(output)  # before a new session is created for a sheet that cannot be written
    found = Session(_run_root(run), session)
    if not found.settings_path.is_file():
        found = Session.create(run, session)
    atomic_write_text(output, export_sheet(found, rater))
    typer.echo(f"written: {output}")


@human_app.command("import")
def import_(
    run: Path = typer.Argument(..., help="Run folder."),
    sheet: Path = typer.Argument(..., help="Filled-in CSV sheet."),
    session: str = typer.Option(..., help="Session the sheet was exported from."),
    rater: str = typer.Option(..., help="Who filled it in."),
) -> None:
    """Append a filled-in sheet's verdicts (A, B, tie, both_bad) to the session."""
    from tunesmith.data.io import read_text
    from tunesmith.human.session import Session
    from tunesmith.human.sheet import import_sheet

    if not sheet.is_file():
        raise UserError(f"{sheet}: sheet not found")
    found = Session(_run_root(run), session)
    found.settings  # noqa: B018 (an unknown session is an error)
    text = read_text(sheet)  # as data files are read: not UTF-8 is file:line, not a traceback
    count = import_sheet(found, rater, text, str(sheet))
    typer.echo(f"imported {count} ratings from {sheet} as {rater}")
