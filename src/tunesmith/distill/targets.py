"""The teacher's top-k log-probabilities at every supervised position, computed once.

Stored in distill/teacher_topk.safetensors (ids int32, log-probs fp16, per-example offsets)
so that student training reads them instead of running the teacher again.
"""

from __future__ import annotations

from pathlib import Path

TARGETS = "teacher_topk.safetensors"


def teacher_topk(teacher, items, k: int, batch_size: int, pad_id: int) -> dict:
    """{'ids', 'logp', 'offsets'}: rows of example i are offsets[i]:offsets[i + 1]."""
    import torch

    from tunesmith.models.nll import collate, supervised_logits, to_device

    ids, logps, offsets = [], [], [0]
    teacher.eval()
    with torch.no_grad():
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            batch = to_device(collate(chunk, pad_id), teacher)
            chosen, _ = supervised_logits(teacher, batch)
            top = torch.log_softmax(chosen.float(), -1).topk(min(k, chosen.shape[-1]), -1)
            ids.append(top.indices.to(torch.int32).cpu())
            logps.append(top.values.to(torch.float16).cpu())
            counts = (batch["labels"][:, 1:] != -100).sum(1).tolist()
            for count in counts:
                offsets.append(offsets[-1] + count)
    return {
        "ids": torch.cat(ids),
        "logp": torch.cat(logps),
        "offsets": torch.tensor(offsets, dtype=torch.int64),
    }


def save_targets(targets: dict, path: Path) -> None:
    from safetensors.torch import save_file

    from tunesmith.artifacts.files import write_atomically

    write_atomically(path, lambda staging: save_file(targets, str(staging)))


def load_targets(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


def attach(items, targets: dict) -> None:
    """Each item's `soft` = its rows of the stored targets (collate concatenates them)."""
    offsets = targets["offsets"].tolist()
    if len(offsets) != len(items) + 1:
        from tunesmith.errors import UserError

        raise UserError("distill: stored teacher targets do not match the training examples")
    for i, item in enumerate(items):
        rows = slice(offsets[i], offsets[i + 1])
        item.soft = (targets["ids"][rows], targets["logp"][rows])
