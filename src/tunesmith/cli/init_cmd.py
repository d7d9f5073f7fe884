"""`tunesmith init DIR`: a starter recipe plus its example data, to edit."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tunesmith.cli.outputs import output_folder
from tunesmith.errors import UserError, suggest
from tunesmith.progress import console

PACKAGE = Path(__file__).resolve().parent.parent
DATA_REF = re.compile(r"\.\./examples/([\w.-]+)")


def example_names() -> list[str]:
    return sorted(p.stem for p in (PACKAGE / "recipes").glob("*.yaml"))


def write_starter(directory: Path, example: str = "demo") -> None:
    source = PACKAGE / "recipes" / f"{example}.yaml"
    if not source.is_file():
        names = example_names()
        raise UserError(
            f"--example: no example '{example}'{suggest(example, names)}; have: {', '.join(names)}"
        )
    output_folder(directory, "DIRECTORY")
    recipe = directory / "recipe.yaml"
    if recipe.exists():
        raise UserError(f"{recipe}: already exists; not overwriting it")
    text = source.read_text(encoding="utf-8")
    (directory / "data").mkdir(parents=True, exist_ok=True)
    for name in DATA_REF.findall(text):
        shutil.copyfile(PACKAGE / "examples" / name, directory / "data" / name)
    recipe.write_text(DATA_REF.sub(r"data/\1", text), encoding="utf-8")
    console.print(f"wrote {recipe} and its example data in {directory / 'data'}")
    console.print(f"next: tunesmith validate {recipe} && tunesmith run {recipe}")
