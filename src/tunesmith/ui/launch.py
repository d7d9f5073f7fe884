"""Recipes from the browser: validated exactly as the CLI does, then run by an ordinary,
detached `tunesmith run` process writing to the run folder (closing the browser loses nothing)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from tunesmith.artifacts import atomic_write_text, write_json
from tunesmith.errors import UserError
from tunesmith.human.names import check_name, child_of
from tunesmith.ui.progress import LAUNCH_FILE

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
MAX_RECIPE_BYTES = 256 * 1024


def example_names() -> list[str]:
    return sorted(p.stem for p in RECIPES.glob("*.yaml"))


def example_text(name: str) -> tuple[str, Path]:
    """A bundled recipe's text and the folder its relative paths start from."""
    if name not in example_names():
        raise UserError(f"example: {name!r} is not one of {', '.join(example_names())}")
    return (RECIPES / f"{name}.yaml").read_text(encoding="utf-8"), RECIPES


def require_recipe_size(size: int, source: str) -> None:
    if size > MAX_RECIPE_BYTES:
        raise UserError(f"{source}: recipe larger than {MAX_RECIPE_BYTES // 1024} KiB")


def recipe_from_text(text: str, base: Path, source: str):
    """Validate recipe text with the CLI's own loader (relative paths start at `base`)."""
    from tunesmith.config import load_recipe

    require_recipe_size(len(text.encode("utf-8")), source)
    fd, tmp = tempfile.mkstemp(prefix=".tunesmith-upload-", suffix=".yaml", dir=base)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        return load_recipe(tmp)
    except UserError as exc:
        raise UserError(str(exc).replace(tmp, source)) from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def check_inputs(recipe) -> None:
    """What `tunesmith validate` checks before anything runs: the data files exist."""
    for key in ("train", "validation", "test"):
        value = getattr(recipe.data, key)
        if value and not Path(value).exists():
            raise UserError(f"data.{key}: {value} not found")


def start_run(recipe, runs_dir: Path) -> Path:
    """Make the run folder, write the resolved recipe, start `tunesmith run` detached."""
    from tunesmith.config import dump_recipe

    check_inputs(recipe)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = check_name(f"{recipe.name}-{stamp}", "name")
    root = child_of(runs_dir, name, "run")
    for suffix in range(2, 100):
        if not root.exists():
            break
        root = child_of(runs_dir, f"{name}-{suffix}", "run")
    (root / "logs").mkdir(parents=True)
    recipe_path = root / "recipe.yaml"
    atomic_write_text(recipe_path, dump_recipe(recipe))
    command = [sys.executable, "-m", "tunesmith.cli", "run", str(recipe_path), "-o", str(root)]
    with open(root / "logs" / "run.log", "ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=runs_dir,
            start_new_session=True,  # survives the server: its own session, no shared signals
        )
    write_json(root / "logs" / LAUNCH_FILE, {"pid": process.pid, "command": command})
    return root
