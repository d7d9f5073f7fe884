"""The base model's own loss per training example, computed once and cached in train/."""

from __future__ import annotations

import hashlib
import json

from tunesmith.artifacts import atomic_write_text

CACHE = "difficulty_base_loss.json"


def base_losses(items, context) -> list[float]:
    """Mean response NLL of each item under `context['model']` (the base, before any adapter)."""
    key = hashlib.sha256(json.dumps([i.input_ids for i in items]).encode()).hexdigest()[:16]
    path = context["out"] / CACHE
    if path.is_file():
        cached = json.loads(path.read_text(encoding="utf-8"))
        if cached.get("key") == key:
            return cached["losses"]
    losses = _losses(context["model"], items, context["pad_id"], context.get("batch_size", 8))
    atomic_write_text(path, json.dumps({"key": key, "losses": losses}))
    return losses


def _losses(model, items, pad_id: int, batch_size: int) -> list[float]:
    import torch
    import torch.nn.functional as F

    from tunesmith.models.nll import collate, supervised_logits, to_device

    model.eval()
    out = [0.0] * len(items)
    with torch.no_grad():
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            batch = to_device(collate(chunk, pad_id), model)
            chosen, targets = supervised_logits(model, batch)
            per_token = F.cross_entropy(chosen.float(), targets, reduction="none").cpu()
            rows = (batch["labels"][:, 1:] != -100).nonzero()[:, 0].cpu()
            sums = torch.zeros(len(chunk)).index_add_(0, rows, per_token)
            counts = torch.bincount(rows, minlength=len(chunk)).clamp(min=1)
            for i, value in enumerate((sums / counts).tolist()):
                out[start + i] = round(value, 5)
    return out
