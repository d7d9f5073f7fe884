"""Resumable checkpoints: trainable weights, optimizer, scheduler, RNG, counters.

Written to a temporary folder and renamed, so a `kill -9` at any moment leaves either the
previous checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

LATEST = "latest"


def save_checkpoint(folder: Path, model, optimizer, scheduler, state: dict) -> None:
    import torch

    from tunesmith.artifacts.rank import is_writer
    from tunesmith.train.distributed import world_size

    if not is_writer():  # multi-process: rank 0 holds the same state and writes it
        return
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".staging-{state['step']}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    trainable = {n: p.detach().cpu() for n, p in model.named_parameters() if p.requires_grad}
    torch.save(trainable, staging / "trainable.pt")
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
    target = folder / LATEST
    old = folder / ".old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(folder: Path, model, optimizer, scheduler) -> dict | None:
    """Restore the latest checkpoint into model/optimizer/scheduler; its state, or None."""
    import torch

    from tunesmith.train.distributed import check_resume_world

    target = folder / LATEST
    if not (target / "state.json").is_file():
        target = folder / ".old"  # crashed between the two renames
        if not (target / "state.json").is_file():
            return None
    world = target / "world.json"
    saved = json.loads(world.read_text())["world_size"] if world.is_file() else 1
    check_resume_world(saved)
    trainable = torch.load(target / "trainable.pt", weights_only=True)
    params = dict(model.named_parameters())
    for name, value in trainable.items():
        params[name].data.copy_(value)
    optim = torch.load(target / "optim.pt", weights_only=False)
    optimizer.load_state_dict(optim["optimizer"])
    scheduler.load_state_dict(optim["scheduler"])
    torch.set_rng_state(optim["torch_rng"])
    return json.loads((target / "state.json").read_text())
