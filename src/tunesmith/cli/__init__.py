"""Command-line shell (typer): parses arguments and calls the library."""
