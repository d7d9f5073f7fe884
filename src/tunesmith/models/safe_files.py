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


def _first(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0][:200] if lines else type(exc).__name__
