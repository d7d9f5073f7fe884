"""`tunesmith init DIR`: a starter recipe plus example data to edit."""

from __future__ import annotations

import shutil
from pathlib import Path

from tunesmith.errors import UserError
from tunesmith.progress import console

PACKAGE = Path(__file__).resolve().parent.parent
EXAMPLE_DATA = "debian_synopsis.jsonl.gz"


def write_starter(directory: Path) -> None:
    recipe = directory / "recipe.yaml"
    if recipe.exists():
        raise UserError(f"{recipe}: already exists; not overwriting it")
    (directory / "data").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PACKAGE / "examples" / EXAMPLE_DATA, directory / "data" / EXAMPLE_DATA)
    text = (PACKAGE / "recipes" / "demo.yaml").read_text(encoding="utf-8")
    recipe.write_text(text.replace(f"../examples/{EXAMPLE_DATA}", f"data/{EXAMPLE_DATA}"))
    console.print(f"wrote {recipe} and {directory / 'data' / EXAMPLE_DATA}")
    console.print(f"next: tunesmith validate {recipe} && tunesmith run {recipe}")
