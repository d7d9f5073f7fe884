"""Resumable checkpoints: trainable weights, optimizer, scheduler, RNG, counters.

Written to a temporary folder and renamed, so a `kill -9` at any moment leaves either the
previous checkpoint or the new one, never half of one. Nothing is unpickled on resume: the
weights are safetensors, the rest is plain tensors and containers loaded with
`weights_only=True` (see models/safe_files.py), so a planted file is refused, never run.
"""

from __future__ import annotations

import json
from pathlib import Path

from tunesmith.artifacts.files import folder_swap, previous_folder

LATEST = "latest"
WEIGHTS = "trainable.safetensors"


def save_checkpoint(folder: Path, model, optimizer, scheduler, state: dict) -> None:
    from tunesmith.artifacts.rank import is_writer

    if not is_writer():  # multi-process: rank 0 holds the same state and writes it
        return
    with folder_swap(folder / LATEST) as staging:
        _write_checkpoint(staging, model, optimizer, scheduler, state)


def _write_checkpoint(staging: Path, model, optimizer, scheduler, state: dict) -> None:
    import torch
    from safetensors.torch import save_file

    from tunesmith.train.distributed import world_size

    trainable = {
        n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad
    }
    save_file(trainable, str(staging / WEIGHTS))
    torch.save(
        {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
        },
        staging / "optim.pt",
    )
    (staging / "state.json").write_text(json.dumps(state))
    (staging / "world.json").write_text(json.dumps({"world_size": world_size()}))


def load_checkpoint(folder: Path, model, optimizer, scheduler) -> dict | None:
    """Restore the latest checkpoint into model/optimizer/scheduler; its state, or None."""
    import torch

    from tunesmith.errors import UserError
    from tunesmith.models.safe_files import load_state, load_tensors
    from tunesmith.train.distributed import check_resume_world

    target = folder / LATEST
    if not (target / "state.json").is_file():
        target = previous_folder(folder / LATEST)  # crashed between the two renames
        if not (target / "state.json").is_file():
            return None
    world = target / "world.json"
    saved = json.loads(world.read_text())["world_size"] if world.is_file() else 1
    check_resume_world(saved)
    if not (target / WEIGHTS).is_file():
        raise UserError(f"{target}: checkpoint without {WEIGHTS}; delete {folder} to start over")
    trainable = load_tensors(target / WEIGHTS)
    params = dict(model.named_parameters())
    unknown = sorted(set(trainable) - set(params))
    if unknown:
        raise UserError(f"{target / WEIGHTS}: not this model's checkpoint (has {unknown[0]})")
    for name, value in trainable.items():
        params[name].data.copy_(value)
    optim = load_state(target / "optim.pt")
    optimizer.load_state_dict(optim["optimizer"])
    scheduler.load_state_dict(optim["scheduler"])
    torch.set_rng_state(optim["torch_rng"])
    try:
        return json.loads((target / "state.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{target / 'state.json'}: not valid JSON ({exc})") from None
