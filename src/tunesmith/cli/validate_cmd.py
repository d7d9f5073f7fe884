"""`tunesmith validate`: everything that can be checked before training."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tunesmith.errors import UserError
from tunesmith.progress import console

BYTES_PER_PARAM_TRAINING = 6  # bf16/fp32 weights + activations headroom for adapter training


def validate_recipe(path: Path, output: Path | None = None, overrides: list[str] = ()) -> None:
    """The pre-flight checks `run` does (data, split, template, model, output), then memory."""
    from tunesmith.cli.outputs import output_folder
    from tunesmith.config import load_recipe
    from tunesmith.models import resolve_model
    from tunesmith.preflight import preflight

    if output is not None:
        output_folder(output)  # a file given as the folder: the error names --output, as run's
    recipe = load_recipe(path, overrides)
    preflight(recipe, output or Path("runs"), say=console.print)
    if recipe.group is not None:
        _check_members(recipe, output or Path("runs"))
    folder = Path(resolve_model(recipe.model.name, fetch=False))
    _memory_estimate(folder if folder.is_dir() else None)


def _check_members(recipe, out: Path) -> None:
    """A group recipe: every member's pre-flight, the one `tunesmith group` runs before it
    trains (a variant naming a module the model lacks is refused here too, not only there)."""
    from tunesmith.group.driver import group_members, preflight_members

    members = group_members(recipe, out)
    preflight_members(recipe, members)
    console.print(f"group members: ok ({', '.join(gm.member.name for gm in members)})")


def _memory_estimate(folder: Path | None) -> None:
    if folder is None or not (folder / "config.json").is_file():
        return
    params = _parameter_count(folder)
    need = params * BYTES_PER_PARAM_TRAINING
    have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    verdict = "fits" if need < have else "does NOT fit"
    console.print(
        f"memory: ~{need / 2**30:.1f} GiB estimated for training, {have / 2**30:.1f} GiB "
        f"installed: {verdict}"
    )
    if need >= have:
        raise UserError(f"model.name: {params / 1e6:.0f}M parameters need ~{need / 2**30:.1f} GiB")


def _parameter_count(folder: Path) -> int:
    """Parameters from the safetensors header (no weights loaded)."""
    total = 0
    for file in folder.glob("*.safetensors"):
        with open(file, "rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(size))
        for key, meta in header.items():
            if key != "__metadata__":
                count = 1
                for dim in meta["shape"]:
                    count *= dim
                total += count
    return total
