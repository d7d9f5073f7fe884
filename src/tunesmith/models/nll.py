"""Causal-LM loss computed only where there are labels; batch collation; perplexity.

The vocabulary projection is the single largest matmul of a small model; a prompt-heavy
example (description -> one-line synopsis) supervises ~10 % of its positions, so projecting
only those cuts most of that cost and all of the full-vocabulary logits' memory.
"""

from __future__ import annotations

from tunesmith.models.formatting import IGNORE
from tunesmith.models.padding import pad_rows


def supervised_nll(model, batch) -> tuple:
    """(sum of token negative log-likelihoods, number of supervised tokens); the batch's common
    head (the template's) runs once (models/shared_head.py)."""
    from tunesmith.models.shared_head import supervised_logits_shared

    chosen, targets = supervised_logits_shared(model, batch)
    return nll_of_logits(chosen, targets, batch), targets.numel()


def nll_of_logits(chosen, targets, batch):
    """Summed (row-weighted, when the batch has weights) NLL of `supervised_logits`."""
    import torch.nn.functional as F

    if "weights" not in batch:
        return F.cross_entropy(chosen.float(), targets, reduction="sum")
    per_token = F.cross_entropy(chosen.float(), targets, reduction="none")
    labels = batch["labels"][:, 1:]
    row_weight = batch["weights"].unsqueeze(1).expand_as(labels)[labels != IGNORE]
    return (per_token * row_weight).sum()


def supervised_logits(model, batch, prefix=None) -> tuple:
    """(logits at the supervised positions, their target ids); with a `Prefix`
    (models/prefix.py) the batch holds only the rows' suffixes after it."""
    labels = batch["labels"][:, 1:]
    supervised = labels != IGNORE
    parts = split_model(model)
    if parts is None:  # unusual architecture: fall back to the model's own full logits
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        # prompt-learning adapters prepend virtual tokens: keep the real positions only
        chosen = logits[:, -batch["input_ids"].shape[1] :][:, :-1][supervised]
    else:
        backbone, head = parts
        hidden = backbone(**_backbone_inputs(model, batch, prefix)).last_hidden_state
        chosen = head(hidden[:, :-1][supervised])
    return chosen, labels[supervised]


def _backbone_inputs(model, batch, prefix) -> dict:
    if prefix is None:
        return {
            "input_ids": batch["input_ids"],
            "attention_mask": batch["attention_mask"],
            "use_cache": False,
        }
    mask, positions = prefix.inputs(batch["attention_mask"])
    rows = batch["input_ids"].shape[0]
    return {
        "input_ids": batch["input_ids"],
        "attention_mask": mask,
        "position_ids": positions,
        "cache": prefix.dynamic_cache(model, rows),
        "use_cache": True,
    }


def split_model(model):
    """(decoder, lm_head) of a causal LM (through a PEFT wrapper), or None if unsafe."""
    peft_config = getattr(model, "active_peft_config", None)
    if getattr(peft_config, "is_prompt_learning", False):  # its prompt lives in the wrapper
        return None
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = getattr(inner, "config", None)
    if getattr(config, "final_logit_softcapping", None) or getattr(config, "logit_scale", None):
        return None
    try:
        backbone, head = inner.get_decoder(), inner.get_output_embeddings()
    except (AttributeError, NotImplementedError):
        return None
    if backbone is None or head is None or backbone is inner:
        return None
    return backbone, head


def collate(items, pad_id: int):
    """Right-padded tensors: input_ids, attention_mask, labels (pads never carry loss)."""
    import torch

    ids, mask = pad_rows([item.input_ids for item in items], pad_id)
    labels, _ = pad_rows([item.labels for item in items], IGNORE)
    batch = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    if any(item.weight != 1.0 for item in items):
        batch["weights"] = torch.tensor([item.weight for item in items], dtype=torch.float32)
    if items[0].soft is not None:  # rows in order: the same order as `supervised_logits`
        batch["soft_ids"] = torch.cat([item.soft[0] for item in items])
        batch["soft_logp"] = torch.cat([item.soft[1] for item in items])
    return batch


def perplexity(model, items, batch_size: int, pad_id: int) -> float:
    """exp(mean NLL over supervised tokens), batched by length."""
    import math

    import torch

    model.eval()
    total, count = 0.0, 0
    order = sorted(range(len(items)), key=lambda i: len(items[i].input_ids))
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            batch = to_device(
                collate([items[i] for i in order[start : start + batch_size]], pad_id), model
            )
            nll, n = supervised_nll(model, batch)
            total, count = total + float(nll), count + int(n)
    if not count:  # exp(0 / 0) is no perplexity: 1.0 here once read as a perfect model
        raise ValueError("perplexity over no supervised tokens")
    return math.exp(total / count)


def to_device(batch: dict, model) -> dict:
    device = next(model.parameters()).device
    return {k: v.to(device) for k, v in batch.items()}


def example_nll(model, items, batch_size: int, pad_id: int) -> list[tuple[float, int]]:
    """Per example: (sum of its token NLLs, its supervised tokens), in the items' order.

    Perplexity is then exp(sum nll / sum tokens) over any resample of the examples. A long
    prefix most items share (few-shot demonstrations, the template's head) is run once.
    """
    from tunesmith.models.prefix import has_prefix, shared_prefix

    model.eval()
    # the prefix stops before the first supervised token's predecessor: its logits are needed
    caps = [first_label(item) - 1 for item in items]
    prefix = shared_prefix(model, [item.input_ids for item in items], caps)
    shared = [has_prefix(item.input_ids, prefix, cap) for item, cap in zip(items, caps)]
    out: list[tuple[float, int]] = [(0.0, 0)] * len(items)
    for with_prefix in (False, True):
        chosen = [i for i, s in enumerate(shared) if s == with_prefix]
        if not with_prefix:
            chosen = _grouped(model, items, chosen, batch_size, pad_id, out)
        _nll_of(model, items, chosen, batch_size, pad_id, prefix if with_prefix else None, out)
    return out


def _grouped(model, items, chosen, batch_size, pad_id, out) -> list[int]:
    """Score the `chosen` items that share their whole context with others, that context run
    once per group (models/shared_context.py); the items left to score one by one."""
    from tunesmith.models.prefix import prefix_refusal
    from tunesmith.models.shared_context import context_groups, grouped_nll

    if prefix_refusal(model) is not None:  # the fast path's refusals, or no separate head
        return chosen
    firsts = {i: first_label(items[i]) for i in chosen}
    groups = context_groups(items, chosen, firsts)
    if not groups:
        return chosen
    grouped_nll(model, items, groups, firsts, batch_size, pad_id, out)
    done = {i for group in groups for i in group}
    return [i for i in chosen if i not in done]


def first_label(item) -> int:
    """Index of the item's first supervised token (its length when it has none)."""
    return next((i for i, label in enumerate(item.labels) if label != IGNORE), len(item.labels))


def _nll_of(model, items, chosen, batch_size, pad_id, prefix, out) -> None:
    """Fill `out` for the items `chosen` (their suffixes after `prefix`, when given)."""
    import torch
    import torch.nn.functional as F

    from tunesmith.models.formatting import Encoded

    skip = len(prefix) if prefix is not None else 0
    order = sorted(chosen, key=lambda i: len(items[i].input_ids))
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            parts = [Encoded(items[i].input_ids[skip:], items[i].labels[skip:]) for i in chunk]
            batch = to_device(collate(parts, pad_id), model)
            logits, targets = supervised_logits(model, batch, prefix)
            supervised = batch["labels"][:, 1:] != IGNORE
            per_token = F.cross_entropy(logits.float(), targets, reduction="none")
            rows = supervised.nonzero()[:, 0]
            sums = torch.zeros(len(chunk), device=per_token.device).index_add_(0, rows, per_token)
            counts = supervised.sum(dim=1)
            for row, index in enumerate(chunk):
                out[index] = (float(sums[row]), int(counts[row]))
