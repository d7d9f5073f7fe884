"""Load files from a run folder without ever running code from them.

A run folder may be shared or copied from someone else, so a planted pickle must be refused,
not executed: weights are safetensors only, and the optimizer/scheduler/RNG state goes through
`torch.load(weights_only=True)`, whose unpickler only builds tensors and plain containers.
"""

from __future__ import annotations

from pathlib import Path

from tunesmith.errors import UserError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


def load_tensors(path: Path) -> dict:
    """A safetensors file as {name: tensor}; anything else is refused with one line."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(f"{path}: not a valid safetensors file, refused ({_first(exc)})") from None


def load_state(path: Path) -> dict:
    """Optimizer/scheduler/RNG state saved with torch.save, loaded with weights_only=True."""
    import pickle

    import torch

    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        raise UserError(
            f"{path}: refused to load (not plain tensors and containers; a planted or corrupt "
            f"file?): {_first(exc)}"
        ) from None
    if not isinstance(state, dict):
        raise UserError(f"{path}: refused to load (expected a mapping, got {type(state).__name__})")
    return state


def require_safetensors(folder: Path) -> None:
    """Refuse a model/adapter folder whose weights exist only as pickles (.bin, .pt, ...)."""
    if any(folder.glob("*.safetensors")):
        return
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
    found = f" (found {', '.join(pickles)})" if pickles else ""
    raise UserError(
        f"{folder}: no .safetensors weights{found}; tunesmith loads only safetensors from a run "
        "folder, never pickles"
    )


def require_readable(folder: Path) -> None:
    """Every JSON file of a saved model or adapter folder parses and every safetensors header
    does (no tensor is read): peft and transformers fail on a damaged one deep inside, naming
    no file."""
    from tunesmith.artifacts.files import read_json

    for file in sorted(folder.glob("*.json")):
        read_json(file)
    for file in sorted(folder.glob("*.safetensors")):
        check_safetensors_header(file)


def check_safetensors_header(file: Path, key: str = "") -> None:
    """The header and tensor table parse (only they are read); else one line naming the file
    (after the recipe `key` it came from, when there is one)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(file), framework="numpy") as handle:
            handle.keys()
    except (SafetensorError, OSError, ValueError) as exc:
        problem = "not a readable safetensors file" if key else "damaged run file"
        where = f"{key}: {file} is" if key else f"{file}:"
        raise UserError(f"{where} {problem}, not valid safetensors ({_first(exc)})") from None


def _first(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0][:200] if lines else type(exc).__name__
